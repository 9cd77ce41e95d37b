// Elementwise kernels (see elementwise.cuh). Each kernel is a grid-stride loop
// over groups of VEC elements; VEC = 4 when n and every pointer allow 4-wide
// vector access, else 1.
#include "elementwise.cuh"

#include <cuda_fp16.h>

#include <initializer_list>
#include <type_traits>
#include <utility>

#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"

namespace gencast::cuda {
namespace {

constexpr int kBlock = 256;

template <int VEC, class TX, class TY, class TO>
__global__ void axpby_kernel(float a, const TX* x, float b, const TY* y, TO* out,
                             int64_t groups) {
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < groups;
       g += int64_t{gridDim.x} * blockDim.x) {
    float xv[VEC], yv[VEC], ov[VEC];
    load_vec<VEC>(x + g * VEC, xv);
    load_vec<VEC>(y + g * VEC, yv);
#pragma unroll
    for (int i = 0; i < VEC; ++i) ov[i] = a * xv[i] + b * yv[i];
    store_vec<VEC>(out + g * VEC, ov);
  }
}

template <int VEC, class TS, class TD>
__global__ void convert_kernel(const TS* src, TD* dst, int64_t groups) {
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < groups;
       g += int64_t{gridDim.x} * blockDim.x) {
    float v[VEC];
    load_vec<VEC>(src + g * VEC, v);
    store_vec<VEC>(dst + g * VEC, v);
  }
}

// Group g of row r: VEC consecutive source columns; the grid-stride loop runs
// over rows x groups so that neighbouring threads touch neighbouring columns.
template <int VEC, class TS, class TD>
__global__ void copy_columns_kernel(const TS* src, float scale, TD* dst, int64_t rows,
                                    int64_t groups, int64_t src_cols, int64_t dst_cols) {
  const int64_t total = rows * groups;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / groups, c = (i - r * groups) * VEC;
    float v[VEC];
    load_vec<VEC>(src + r * src_cols + c, v);
#pragma unroll
    for (int k = 0; k < VEC; ++k) v[k] *= scale;
    store_vec<VEC>(dst + r * dst_cols + c, v);
  }
}

template <class T>
__global__ void fill_kernel(T* dst, float value, int64_t n) {
  const T v = from_f32<T>(value);
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = v;
}

template <int VEC, Activation A, class T>
__global__ void activation_kernel(T* y, int64_t groups) {
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < groups;
       g += int64_t{gridDim.x} * blockDim.x) {
    float v[VEC];
    load_vec<VEC>(y + g * VEC, v);
#pragma unroll
    for (int i = 0; i < VEC; ++i) v[i] = activate<A>(v[i]);
    store_vec<VEC>(y + g * VEC, v);
  }
}

// Four elements per thread where every pointer allows (8-byte half loads).
template <bool kToHalf>
__global__ void convert_half_kernel(const void* src, void* dst, int64_t n, bool vec4) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  const int64_t first = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (vec4) {
    for (int64_t g = first; g < n / 4; g += stride) {
      if constexpr (kToHalf) {
        const float4 v = static_cast<const float4*>(src)[g];
        const __half2 lo = __floats2half2_rn(v.x, v.y), hi = __floats2half2_rn(v.z, v.w);
        uint2 raw;
        raw.x = *reinterpret_cast<const uint32_t*>(&lo);
        raw.y = *reinterpret_cast<const uint32_t*>(&hi);
        static_cast<uint2*>(dst)[g] = raw;
      } else {
        const uint2 raw = static_cast<const uint2*>(src)[g];
        const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
        const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
        static_cast<float4*>(dst)[g] = make_float4(lo.x, lo.y, hi.x, hi.y);
      }
    }
    return;
  }
  for (int64_t i = first; i < n; i += stride) {
    if constexpr (kToHalf)
      static_cast<__half*>(dst)[i] = __float2half_rn(static_cast<const float*>(src)[i]);
    else
      static_cast<float*>(dst)[i] = __half2float(static_cast<const __half*>(src)[i]);
  }
}

}  // namespace

void axpby_launch(float a, const void* x, DType tx, float b, const void* y, DType ty, void* out,
                  DType tout, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_float_type(tx, "axpby", [&](auto xt) {
    dispatch_float_type(ty, "axpby", [&](auto yt) {
      dispatch_float_type(tout, "axpby", [&](auto ot) {
        using TX = decltype(xt);
        using TY = decltype(yt);
        using TO = decltype(ot);
        const auto* xp = static_cast<const TX*>(x);
        const auto* yp = static_cast<const TY*>(y);
        auto* op = static_cast<TO*>(out);
        with_vec(n, {{x, tx}, {y, ty}, {out, tout}}, [&](auto vec) {
          constexpr int VEC = decltype(vec)::value;
          axpby_kernel<VEC><<<grid_for(n / VEC, kBlock), kBlock, 0, stream>>>(a, xp, b, yp, op,
                                                                              n / VEC);
        });
      });
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

void convert_launch(const void* src, DType tsrc, void* dst, DType tdst, int64_t n,
                    cudaStream_t stream) {
  if (n == 0) return;
  dispatch_float_type(tsrc, "copy", [&](auto st) {
    dispatch_float_type(tdst, "copy", [&](auto dt) {
      using TS = decltype(st);
      using TD = decltype(dt);
      const auto* sp = static_cast<const TS*>(src);
      auto* dp = static_cast<TD*>(dst);
      with_vec(n, {{src, tsrc}, {dst, tdst}}, [&](auto vec) {
        constexpr int VEC = decltype(vec)::value;
        convert_kernel<VEC><<<grid_for(n / VEC, kBlock), kBlock, 0, stream>>>(sp, dp, n / VEC);
      });
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

void convert_half_launch(const void* src, DType tsrc, void* dst, DType tdst, int64_t n,
                         cudaStream_t stream) {
  if (n == 0) return;
  const bool to_half = tsrc == DType::f32 && tdst == DType::f16;
  if (!to_half && !(tsrc == DType::f16 && tdst == DType::f32))
    throw std::invalid_argument(std::string("cuda backend copy: cannot convert ") +
                                dtype_name(tsrc) + " to " + dtype_name(tdst));
  const bool vec4 = n % 4 == 0 && is_aligned(src, 16) && is_aligned(dst, 16);
  const unsigned grid = grid_for(vec4 ? n / 4 : n, kBlock);
  if (to_half)
    convert_half_kernel<true><<<grid, kBlock, 0, stream>>>(src, dst, n, vec4);
  else
    convert_half_kernel<false><<<grid, kBlock, 0, stream>>>(src, dst, n, vec4);
  CUDA_CHECK(cudaGetLastError());
}

void copy_columns_launch(const void* src, DType tsrc, float scale, void* dst, DType tdst,
                         int64_t rows, int64_t src_cols, int64_t dst_cols, int64_t col0,
                         cudaStream_t stream) {
  if (rows == 0 || src_cols == 0) return;
  // 4-wide when every row's source and destination start 4-element aligned:
  // the first rows' pointers aligned and both row strides multiples of 4.
  const void* dst_first =
      static_cast<const char*>(dst) + col0 * static_cast<int64_t>(dtype_size(tdst));
  const bool vec4 = dst_cols % 4 == 0 && can_vec(src_cols, 4, {{src, tsrc}, {dst_first, tdst}});
  dispatch_float_type(tsrc, "copy_columns", [&](auto st) {
    dispatch_float_type(tdst, "copy_columns", [&](auto dt) {
      using TS = decltype(st);
      using TD = decltype(dt);
      const auto* sp = static_cast<const TS*>(src);
      auto* dp = static_cast<TD*>(dst) + col0;
      if (vec4)
        copy_columns_kernel<4><<<grid_for(rows * (src_cols / 4), kBlock), kBlock, 0, stream>>>(
            sp, scale, dp, rows, src_cols / 4, src_cols, dst_cols);
      else
        copy_columns_kernel<1><<<grid_for(rows * src_cols, kBlock), kBlock, 0, stream>>>(
            sp, scale, dp, rows, src_cols, src_cols, dst_cols);
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

void fill_launch(void* dst, DType t, float value, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_float_type(t, "fill", [&](auto tt) {
    using T = decltype(tt);
    fill_kernel<<<grid_for(n, kBlock), kBlock, 0, stream>>>(static_cast<T*>(dst), value, n);
  });
  CUDA_CHECK(cudaGetLastError());
}

void activation_launch(void* y, DType t, Activation act, int64_t n, cudaStream_t stream) {
  if (n == 0 || act == Activation::none) return;
  dispatch_float_type(t, "activation", [&](auto tt) {
    using T = decltype(tt);
    auto* yp = static_cast<T*>(y);
    with_vec(n, {{y, t}}, [&](auto vec) {
      constexpr int VEC = decltype(vec)::value;
      auto run = [&](auto act_tag) {
        constexpr Activation A = decltype(act_tag)::value;
        activation_kernel<VEC, A><<<grid_for(n / VEC, kBlock), kBlock, 0, stream>>>(yp, n / VEC);
      };
      if (act == Activation::swish)
        run(std::integral_constant<Activation, Activation::swish>{});
      else
        run(std::integral_constant<Activation, Activation::gelu>{});
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace gencast::cuda
