// layer_norm_cond kernel: one warp per row, 8 rows per 256-thread block. Each
// lane walks the row in groups of VEC elements (VEC = 4 when C and the
// pointers allow 16/8-byte access); the row is read three times, the second
// and third time mostly from L1 (a 512-wide f32 row is 2 KiB).
#include "layernorm.cuh"

#include <stdexcept>

#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"

namespace gencast::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr float kEps = 1e-5f;  // flax/haiku LayerNorm default used by the reference

template <int VEC, class TX, class TY>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    layer_norm_cond_kernel(const TX* __restrict__ x, const float* __restrict__ cond,
                           TY* __restrict__ y, int64_t rows, int64_t cols, bool accumulate) {
  const int lane = threadIdx.x % 32;
  const int64_t row = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  if (row >= rows) return;  // whole warp leaves together: no shuffle is left half-done
  const TX* xr = x + row * cols;
  TY* yr = y + row * cols;
  const int64_t groups = cols / VEC;

  float sum = 0.f;
  for (int64_t g = lane; g < groups; g += 32) {
    float v[VEC];
    load_vec<VEC>(xr + g * VEC, v);
#pragma unroll
    for (int i = 0; i < VEC; ++i) sum += v[i];
  }
  const float mean = warp_sum(sum) / static_cast<float>(cols);

  float sq = 0.f;
  for (int64_t g = lane; g < groups; g += 32) {
    float v[VEC];
    load_vec<VEC>(xr + g * VEC, v);
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const float d = v[i] - mean;
      sq += d * d;
    }
  }
  const float var = warp_sum(sq) / static_cast<float>(cols);
  const float inv = 1.f / sqrtf(var + kEps);

  const float* scale = cond;
  const float* offset = cond + cols;
  for (int64_t g = lane; g < groups; g += 32) {
    float v[VEC], s[VEC], o[VEC], out[VEC];
    load_vec<VEC>(xr + g * VEC, v);
    load_vec<VEC>(scale + g * VEC, s);
    load_vec<VEC>(offset + g * VEC, o);
    if (accumulate) load_vec<VEC>(yr + g * VEC, out);
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const float n = (v[i] - mean) * inv * (1.f + s[i]) + o[i];
      out[i] = accumulate ? out[i] + n : n;
    }
    store_vec<VEC>(yr + g * VEC, out);
  }
}

}  // namespace

void layer_norm_cond_launch(const void* x, DType tx, const float* cond, void* y, DType ty,
                            int64_t rows, int64_t cols, bool accumulate, cudaStream_t stream) {
  if (rows == 0) return;
  if (cols <= 0) throw std::invalid_argument("cuda backend layer_norm_cond: zero columns");
  // Rows start at multiples of C, so C % 4 == 0 plus aligned bases align every row.
  const bool vec4 = cols % 4 == 0 && is_aligned(x, 4 * dtype_size(tx)) &&
                    is_aligned(y, 4 * dtype_size(ty)) && is_aligned(cond, 16) &&
                    is_aligned(cond + cols, 16);
  const int64_t block_count = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (block_count > 0x7fffffff)
    throw std::invalid_argument("cuda backend layer_norm_cond: too many rows");
  const auto blocks = static_cast<unsigned>(block_count);
  dispatch_float_type(tx, "layer_norm_cond", [&](auto xt) {
    dispatch_float_type(ty, "layer_norm_cond", [&](auto yt) {
      using TX = decltype(xt);
      using TY = decltype(yt);
      const auto* xp = static_cast<const TX*>(x);
      auto* yp = static_cast<TY*>(y);
      if (vec4)
        layer_norm_cond_kernel<4><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
            xp, cond, yp, rows, cols, accumulate);
      else
        layer_norm_cond_kernel<1><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
            xp, cond, yp, rows, cols, accumulate);
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace gencast::cuda
