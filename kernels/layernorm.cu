// layer_norm_cond kernels: one warp per row, 8 rows per 256-thread block.
// Rows up to 1024 columns (every row of the model) are held in registers and
// read once, in 16-byte groups where C and the pointers allow; wider rows are
// walked three times in groups of VEC elements, the second and third time
// mostly from L1.
#include "layernorm.cuh"

#include <stdexcept>
#include <type_traits>

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

// The same function with the row held in registers (GROUPS groups of VEC
// columns per lane: column (lane + 32 g) * VEC), read from memory once
// instead of three times; for rows up to 32 * VEC * GROUPS columns. (A
// grid-stride form that kept the conditioning in registers across rows was
// slower on the H200: BENCHMARKS "Fast path, round 7".)
template <int VEC, int GROUPS, class TX, class TY>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    layer_norm_cond_rows_kernel(const TX* __restrict__ x, const float* __restrict__ cond,
                                TY* __restrict__ y, int64_t rows, int64_t cols, bool accumulate) {
  const int lane = threadIdx.x % 32;
  const int64_t row = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32;
  if (row >= rows) return;  // whole warp leaves together
  const TX* xr = x + row * cols;
  TY* yr = y + row * cols;
  float v[GROUPS][VEC];
  float sum = 0.f;
#pragma unroll
  for (int g = 0; g < GROUPS; ++g) {
    const int64_t c = (lane + 32 * int64_t{g}) * VEC;
#pragma unroll
    for (int i = 0; i < VEC; ++i) v[g][i] = 0.f;
    if (c < cols) load_vec<VEC>(xr + c, v[g]);
#pragma unroll
    for (int i = 0; i < VEC; ++i) sum += v[g][i];
  }
  const float mean = warp_sum(sum) / static_cast<float>(cols);
  float sq = 0.f;
#pragma unroll
  for (int g = 0; g < GROUPS; ++g)
    if ((lane + 32 * int64_t{g}) * VEC < cols)
#pragma unroll
      for (int i = 0; i < VEC; ++i) {
        const float d = v[g][i] - mean;
        sq += d * d;
      }
  const float var = warp_sum(sq) / static_cast<float>(cols);
  const float inv = 1.f / sqrtf(var + kEps);
#pragma unroll
  for (int g = 0; g < GROUPS; ++g) {
    const int64_t c = (lane + 32 * int64_t{g}) * VEC;
    if (c >= cols) continue;
    float s[VEC], o[VEC], out[VEC];
    load_vec<VEC>(cond + c, s);
    load_vec<VEC>(cond + cols + c, o);
    if (accumulate) load_vec<VEC>(yr + c, out);
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const float n = (v[g][i] - mean) * inv * (1.f + s[i]) + o[i];
      out[i] = accumulate ? out[i] + n : n;
    }
    store_vec<VEC>(yr + c, out);
  }
}

}  // namespace

void layer_norm_cond_launch(const void* x, DType tx, const float* cond, void* y, DType ty,
                            int64_t rows, int64_t cols, bool accumulate, cudaStream_t stream) {
  if (rows == 0) return;
  if (cols <= 0) throw std::invalid_argument("cuda backend layer_norm_cond: zero columns");
  // Rows start at multiples of C, so C % VEC == 0 plus aligned bases align
  // every row; 8-wide (16-byte bf16 loads) where x is bf16.
  const auto vec_ok = [&](int v) {
    return can_vec(cols, v, {{x, tx}, {y, ty}, {cond, DType::f32}, {cond + cols, DType::f32}});
  };
  const bool vec8 = tx == DType::bf16 && vec_ok(8), vec4 = vec_ok(4);
  const int64_t block_count = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (block_count > 0x7fffffff)
    throw std::invalid_argument("cuda backend layer_norm_cond: too many rows");
  const auto blocks = static_cast<unsigned>(block_count);
  // Outputs: the input's type, float32, or (float32 input only) IEEE half
  // for tf32's f16 GEMM operands.
  const auto dispatch_output = [&](auto xt, auto&& f) {
    if constexpr (std::is_same_v<decltype(xt), float>) {
      if (ty == DType::f16) return f(__half{});
    }
    dispatch_float_type(ty, "layer_norm_cond", f);
  };
  dispatch_float_type(tx, "layer_norm_cond", [&](auto xt) {
    dispatch_output(xt, [&](auto yt) {
      using TX = decltype(xt);
      using TY = decltype(yt);
      const auto* xp = static_cast<const TX*>(x);
      auto* yp = static_cast<TY*>(y);
      const auto rows_kernel = [&](auto vec, auto groups) {
        layer_norm_cond_rows_kernel<decltype(vec)::value, decltype(groups)::value>
            <<<blocks, kWarpsPerBlock * 32, 0, stream>>>(xp, cond, yp, rows, cols, accumulate);
      };
      using I1 = std::integral_constant<int, 1>;
      using I2 = std::integral_constant<int, 2>;
      using I4 = std::integral_constant<int, 4>;
      using I8 = std::integral_constant<int, 8>;
      if (vec8 && cols <= 256)
        rows_kernel(I8{}, I1{});
      else if (vec8 && cols <= 512)
        rows_kernel(I8{}, I2{});
      else if (vec8 && cols <= 1024)
        rows_kernel(I8{}, I4{});
      else if (vec4 && cols <= 128)
        rows_kernel(I4{}, I1{});
      else if (vec4 && cols <= 512)
        rows_kernel(I4{}, I4{});
      else if (vec4)
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
