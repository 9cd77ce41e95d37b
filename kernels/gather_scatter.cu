// gather2_add_act and segment_sum kernels (see gather_scatter.cuh).
//
// gather2_add_act: a grid-stride loop over (row, group of VEC columns); the
// two index loads per group hit L1 after the first group of a row.
// segment_sum: one warp per receiver row, 8 rows per block; lanes split the
// columns in groups of VEC, so each edge row is read as one contiguous,
// coalesced segment, and each lane keeps its own float32 accumulators.
#include "gather_scatter.cuh"

#include <stdexcept>
#include <type_traits>

#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"

namespace gencast::cuda {
namespace {

constexpr int kBlock = 256;
constexpr int kSegWarps = 8;

template <int VEC, Activation A, class TAB, class TY>
__global__ void gather2_add_act_kernel(const TAB* __restrict__ a, int64_t rows_a,
                                       const int32_t* __restrict__ ia, const TAB* __restrict__ b,
                                       int64_t rows_b, const int32_t* __restrict__ ib,
                                       TY* __restrict__ y, int64_t rows, int64_t cols) {
  const int64_t groups_per_row = cols / VEC;
  const int64_t total = rows * groups_per_row;
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < total;
       g += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = g / groups_per_row;
    const int64_t c = (g - r * groups_per_row) * VEC;
    const int64_t i = ia[r], j = ib[r];
    float out[VEC];
    if (i < 0 || i >= rows_a || j < 0 || j >= rows_b) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) out[k] = __int_as_float(0x7fc00000);  // NaN: broken graph
    } else {
      float yv[VEC], av[VEC], bv[VEC];
      load_vec<VEC>(y + r * cols + c, yv);
      load_vec<VEC>(a + i * cols + c, av);
      load_vec<VEC>(b + j * cols + c, bv);
#pragma unroll
      for (int k = 0; k < VEC; ++k) out[k] = activate<A>(yv[k] + av[k] + bv[k]);
    }
    store_vec<VEC>(y + r * cols + c, out);
  }
}

template <int VEC, class TX, class TY>
__global__ void __launch_bounds__(kSegWarps * 32)
    segment_sum_kernel(const TX* __restrict__ x, int64_t rows_x,
                       const int32_t* __restrict__ offsets, TY* __restrict__ y, int64_t rows,
                       int64_t cols) {
  const int lane = threadIdx.x % 32;
  const int64_t n = blockIdx.x * int64_t{kSegWarps} + threadIdx.x / 32;
  if (n >= rows) return;
  const int64_t base = offsets[0];
  const int64_t begin = offsets[n] - base, end = offsets[n + 1] - base;
  const bool valid = 0 <= begin && begin <= end && end <= rows_x;
  TY* yr = y + n * cols;
  for (int64_t c = int64_t{lane} * VEC; c < cols; c += 32 * VEC) {
    float acc[VEC];
#pragma unroll
    for (int k = 0; k < VEC; ++k) acc[k] = valid ? 0.f : __int_as_float(0x7fc00000);
    if (valid) {
#pragma unroll 4
      for (int64_t e = begin; e < end; ++e) {
        float v[VEC];
        load_vec<VEC>(x + e * cols + c, v);
#pragma unroll
        for (int k = 0; k < VEC; ++k) acc[k] += v[k];
      }
    }
    store_vec<VEC>(yr + c, acc);
  }
}

}  // namespace

void gather2_add_act_launch(const void* a, int64_t rows_a, const int32_t* ia, const void* b,
                            int64_t rows_b, const int32_t* ib, DType tab, void* y, DType ty,
                            int64_t rows, int64_t cols, Activation act, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const bool vec4 = cols % 4 == 0 && is_aligned(a, 4 * dtype_size(tab)) &&
                    is_aligned(b, 4 * dtype_size(tab)) && is_aligned(y, 4 * dtype_size(ty));
  dispatch_float_type(tab, "gather2_add_act", [&](auto abt) {
    dispatch_float_type(ty, "gather2_add_act", [&](auto yt) {
      using TAB = decltype(abt);
      using TY = decltype(yt);
      const auto* ap = static_cast<const TAB*>(a);
      const auto* bp = static_cast<const TAB*>(b);
      auto* yp = static_cast<TY*>(y);
      auto run = [&](auto act_tag) {
        constexpr Activation A = decltype(act_tag)::value;
        if (vec4)
          gather2_add_act_kernel<4, A><<<grid_for(rows * cols / 4, kBlock), kBlock, 0, stream>>>(
              ap, rows_a, ia, bp, rows_b, ib, yp, rows, cols);
        else
          gather2_add_act_kernel<1, A><<<grid_for(rows * cols, kBlock), kBlock, 0, stream>>>(
              ap, rows_a, ia, bp, rows_b, ib, yp, rows, cols);
      };
      switch (act) {
        case Activation::none: run(std::integral_constant<Activation, Activation::none>{}); break;
        case Activation::swish: run(std::integral_constant<Activation, Activation::swish>{}); break;
        case Activation::gelu: run(std::integral_constant<Activation, Activation::gelu>{}); break;
      }
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

void segment_sum_launch(const void* x, DType tx, int64_t rows_x, const int32_t* offsets, void* y,
                        DType ty, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const bool vec4 =
      cols % 4 == 0 && is_aligned(x, 4 * dtype_size(tx)) && is_aligned(y, 4 * dtype_size(ty));
  const int64_t block_count = (rows + kSegWarps - 1) / kSegWarps;
  if (block_count > 0x7fffffff)
    throw std::invalid_argument("cuda backend segment_sum: too many rows");
  const auto blocks = static_cast<unsigned>(block_count);
  dispatch_float_type(tx, "segment_sum", [&](auto xt) {
    dispatch_float_type(ty, "segment_sum", [&](auto yt) {
      using TX = decltype(xt);
      using TY = decltype(yt);
      const auto* xp = static_cast<const TX*>(x);
      auto* yp = static_cast<TY*>(y);
      if (vec4)
        segment_sum_kernel<4><<<blocks, kSegWarps * 32, 0, stream>>>(xp, rows_x, offsets, yp,
                                                                     rows, cols);
      else
        segment_sum_kernel<1><<<blocks, kSegWarps * 32, 0, stream>>>(xp, rows_x, offsets, yp,
                                                                     rows, cols);
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace gencast::cuda
