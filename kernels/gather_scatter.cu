// gather2_add_act and segment_sum kernels (see gather_scatter.cuh).
//
// gather2_add_act: 2-D blocks, threadIdx.x over a row's groups of VEC
// columns and threadIdx.y over rows, in a grid-stride loop over rows: each
// row's two indices are read once per thread, with no 64-bit division per
// element (which, with the IEEE swish, made the flat form issue-bound).
// segment_sum: one warp per receiver row, 8 rows per block; lanes split the
// columns in groups of VEC, so each edge row is read as one contiguous,
// coalesced segment, and each lane keeps its own float32 accumulators.
#include "gather_scatter.cuh"

#include <algorithm>
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
  for (int64_t r = blockIdx.x * int64_t{blockDim.y} + threadIdx.y; r < rows;
       r += int64_t{gridDim.x} * blockDim.y) {
    const int64_t i = ia[r], j = ib[r];
    const bool broken = i < 0 || i >= rows_a || j < 0 || j >= rows_b;
    for (int64_t g = threadIdx.x; g < groups_per_row; g += blockDim.x) {
      const int64_t c = g * VEC;
      float out[VEC];
      if (broken) {
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

// One warp per receiver row n: every edge row of its segment is read once
// into registers (GROUPS groups of VEC columns per lane: column
// (lane + 32 g) * VEC), normalized with two-pass float32 statistics like
// layer_norm_cond_kernel, conditioned, and added to float32 accumulators.
template <int VEC, int GROUPS, class TX, class TY>
__global__ void __launch_bounds__(kSegWarps * 32)
    ln_cond_segment_sum_kernel(const TX* __restrict__ x, int64_t rows_x,
                               const int32_t* __restrict__ offsets, const float* __restrict__ cond,
                               TY* __restrict__ y, int64_t rows, int64_t cols) {
  constexpr float kEps = 1e-5f;  // as layernorm.cu
  const int lane = threadIdx.x % 32;
  const int64_t n = blockIdx.x * int64_t{kSegWarps} + threadIdx.x / 32;
  if (n >= rows) return;  // whole warp leaves together
  const int64_t base = offsets[0];
  const int64_t begin = offsets[n] - base, end = offsets[n + 1] - base;
  const bool valid = 0 <= begin && begin <= end && end <= rows_x;
  float s[GROUPS][VEC], o[GROUPS][VEC], acc[GROUPS][VEC];
  bool live[GROUPS];
#pragma unroll
  for (int g = 0; g < GROUPS; ++g) {
    const int64_t c = (lane + 32 * int64_t{g}) * VEC;
    live[g] = c < cols;
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      s[g][k] = o[g][k] = 0.f;
      acc[g][k] = valid ? 0.f : __int_as_float(0x7fc00000);  // NaN: broken graph
    }
    if (live[g]) {
      load_vec<VEC>(cond + c, s[g]);
      load_vec<VEC>(cond + cols + c, o[g]);
    }
  }
  const float inv_cols = 1.f / static_cast<float>(cols);
  for (int64_t e = valid ? begin : end; e < end; ++e) {
    float v[GROUPS][VEC];
    float sum = 0.f;
#pragma unroll
    for (int g = 0; g < GROUPS; ++g) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) v[g][k] = 0.f;
      if (live[g]) load_vec<VEC>(x + e * cols + (lane + 32 * int64_t{g}) * VEC, v[g]);
#pragma unroll
      for (int k = 0; k < VEC; ++k) sum += v[g][k];
    }
    const float mean = warp_sum(sum) * inv_cols;
    float sq = 0.f;
#pragma unroll
    for (int g = 0; g < GROUPS; ++g)
      if (live[g])
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float d = v[g][k] - mean;
          sq += d * d;
        }
    const float inv = 1.f / sqrtf(warp_sum(sq) * inv_cols + kEps);
#pragma unroll
    for (int g = 0; g < GROUPS; ++g)
#pragma unroll
      for (int k = 0; k < VEC; ++k)
        acc[g][k] += (v[g][k] - mean) * inv * (1.f + s[g][k]) + o[g][k];
  }
#pragma unroll
  for (int g = 0; g < GROUPS; ++g)
    if (live[g]) store_vec<VEC>(y + n * cols + (lane + 32 * int64_t{g}) * VEC, acc[g]);
}

}  // namespace

bool layer_norm_cond_segment_sum_launch(const void* x, DType tx, int64_t rows_x,
                                        const float* cond, const int32_t* offsets, void* y,
                                        DType ty, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (cols > 512) return false;
  if (rows == 0 || cols == 0) return true;
  const bool vec4 =
      can_vec(cols, 4, {{x, tx}, {y, ty}, {cond, DType::f32}, {cond + cols, DType::f32}});
  const int64_t block_count = (rows + kSegWarps - 1) / kSegWarps;
  if (block_count > 0x7fffffff)
    throw std::invalid_argument("cuda backend layer_norm_cond_segment_sum: too many rows");
  const auto blocks = static_cast<unsigned>(block_count);
  dispatch_float_type(tx, "layer_norm_cond_segment_sum", [&](auto xt) {
    dispatch_float_type(ty, "layer_norm_cond_segment_sum", [&](auto yt) {
      using TX = decltype(xt);
      using TY = decltype(yt);
      const auto* xp = static_cast<const TX*>(x);
      auto* yp = static_cast<TY*>(y);
      const auto run = [&](auto vec, auto groups) {
        ln_cond_segment_sum_kernel<decltype(vec)::value, decltype(groups)::value>
            <<<blocks, kSegWarps * 32, 0, stream>>>(xp, rows_x, offsets, cond, yp, rows, cols);
      };
      using I1 = std::integral_constant<int, 1>;
      using I4 = std::integral_constant<int, 4>;
      using I16 = std::integral_constant<int, 16>;
      if (vec4 && cols <= 128)
        run(I4{}, I1{});
      else if (vec4)
        run(I4{}, I4{});
      else if (cols <= 32)
        run(I1{}, I1{});
      else
        run(I1{}, I16{});
    });
  });
  CUDA_CHECK(cudaGetLastError());
  return true;
}

void gather2_add_act_launch(const void* a, int64_t rows_a, const int32_t* ia, const void* b,
                            int64_t rows_b, const int32_t* ib, DType tab, void* y, DType ty,
                            int64_t rows, int64_t cols, Activation act, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  dispatch_float_type(tab, "gather2_add_act", [&](auto abt) {
    dispatch_float_type(ty, "gather2_add_act", [&](auto yt) {
      using TAB = decltype(abt);
      using TY = decltype(yt);
      const auto* ap = static_cast<const TAB*>(a);
      const auto* bp = static_cast<const TAB*>(b);
      auto* yp = static_cast<TY*>(y);
      // Rows start at multiples of cols: cols % VEC == 0 and aligned bases
      // align every row.
      with_vec(cols, {{a, tab}, {b, tab}, {y, ty}}, [&](auto vec) {
        constexpr int VEC = decltype(vec)::value;
        const int64_t groups = cols / VEC;
        const dim3 block(static_cast<unsigned>(std::min<int64_t>(groups, kBlock)),
                         static_cast<unsigned>(std::max<int64_t>(1, kBlock / groups)));
        const auto grid = static_cast<unsigned>(
            std::clamp<int64_t>((rows + block.y - 1) / block.y, 1, int64_t{1} << 20));
        auto run = [&](auto act_tag) {
          constexpr Activation A = decltype(act_tag)::value;
          gather2_add_act_kernel<VEC, A><<<grid, block, 0, stream>>>(ap, rows_a, ia, bp, rows_b,
                                                                     ib, yp, rows, cols);
        };
        switch (act) {
          case Activation::none: run(std::integral_constant<Activation, Activation::none>{}); break;
          case Activation::swish: run(std::integral_constant<Activation, Activation::swish>{}); break;
          case Activation::gelu: run(std::integral_constant<Activation, Activation::gelu>{}); break;
        }
      });
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

void segment_sum_launch(const void* x, DType tx, int64_t rows_x, const int32_t* offsets, void* y,
                        DType ty, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const bool vec4 = can_vec(cols, 4, {{x, tx}, {y, ty}});
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
