// Device-side helpers shared by the kernels: f32/bf16 conversion, vector
// loads/stores for both element types, activations and warp sums.
//
// Invariants: all arithmetic is float32; bf16 values are widened exactly on
// load and rounded to nearest-even on store (__float2bfloat16_rn). The
// activations compute the same formulas as activation_value() in
// lib/backend/cpu_backend.cpp (gelu = tanh approximation, swish = x*sigmoid(x)).
// swish uses the fast exponential and division (a few ulp of float32, far
// inside every precision's tolerance): with the IEEE forms the elementwise
// kernels that apply it were bound by instruction issue, not by memory.
// The VEC-wide helpers (VEC = 4, or 8 for bf16: one 16-byte access) require
// VEC-element alignment; launchers check it (vec_width) and fall back to the
// scalar path otherwise.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "backend/backend.h"

namespace gencast::cuda {

using bf16 = __nv_bfloat16;

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ bf16 from_f32<bf16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }

// Loads VEC consecutive elements starting at p (VEC = 1, 4, or 8 for 16-bit types) as floats.
template <int VEC>
__device__ __forceinline__ void load_vec(const float* p, float (&out)[VEC]) {
  if constexpr (VEC % 4 == 0) {
#pragma unroll
    for (int q = 0; q < VEC / 4; ++q) {
      const float4 t = reinterpret_cast<const float4*>(p)[q];
      out[4 * q] = t.x; out[4 * q + 1] = t.y; out[4 * q + 2] = t.z; out[4 * q + 3] = t.w;
    }
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) out[i] = p[i];
  }
}
template <int VEC>
__device__ __forceinline__ void store_vec(float* p, const float (&v)[VEC]) {
  if constexpr (VEC % 4 == 0) {
#pragma unroll
    for (int q = 0; q < VEC / 4; ++q)
      reinterpret_cast<float4*>(p)[q] = make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) p[i] = v[i];
  }
}
// The 16-bit types: bf16 (the bf16 precision) and IEEE half (tf32's f16
// operands). Pairs pack into 32-bit words, `a` in the low half, rounded to
// nearest even; VEC = 8 and 4 move 16 and 8 bytes at a time.
template <class T>
concept Float16Bits = std::is_same_v<T, bf16> || std::is_same_v<T, __half>;
template <Float16Bits T>
__device__ __forceinline__ uint32_t pack_x2(float a, float b) {
  if constexpr (std::is_same_v<T, bf16>) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
    return *reinterpret_cast<const uint32_t*>(&v);
  } else {
    const __half2 v = __floats2half2_rn(a, b);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
}
template <Float16Bits T>
__device__ __forceinline__ float2 unpack_x2(uint32_t raw) {
  if constexpr (std::is_same_v<T, bf16>)
    return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw));
  else
    return __half22float2(*reinterpret_cast<const __half2*>(&raw));
}
template <int VEC, Float16Bits T>
__device__ __forceinline__ void load_vec(const T* p, float (&out)[VEC]) {
  if constexpr (VEC == 8) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const float2 f = unpack_x2<T>(w[q]);
      out[2 * q] = f.x; out[2 * q + 1] = f.y;
    }
  } else if constexpr (VEC == 4) {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    const float2 lo = unpack_x2<T>(raw.x), hi = unpack_x2<T>(raw.y);
    out[0] = lo.x; out[1] = lo.y; out[2] = hi.x; out[3] = hi.y;
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) out[i] = to_f32(p[i]);
  }
}
template <int VEC, Float16Bits T>
__device__ __forceinline__ void store_vec(T* p, const float (&v)[VEC]) {
  if constexpr (VEC == 8) {
    *reinterpret_cast<uint4*>(p) = make_uint4(pack_x2<T>(v[0], v[1]), pack_x2<T>(v[2], v[3]),
                                              pack_x2<T>(v[4], v[5]), pack_x2<T>(v[6], v[7]));
  } else if constexpr (VEC == 4) {
    *reinterpret_cast<uint2*>(p) = make_uint2(pack_x2<T>(v[0], v[1]), pack_x2<T>(v[2], v[3]));
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) p[i] = from_f32<T>(v[i]);
  }
}

// Elements per 16-byte access: 4 floats or 8 bf16.
template <class T>
inline constexpr int kVec16 = static_cast<int>(16 / sizeof(T));

template <Activation A>
__device__ __forceinline__ float activate(float x) {
  if constexpr (A == Activation::swish) {
    // x -> -inf: the exponential overflows to inf and x / inf = -0, as in IEEE.
    return __fdividef(x, 1.f + __expf(-x));
  } else if constexpr (A == Activation::gelu) {
    const float c = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * x * (1.f + tanhf(c * (x + 0.044715f * x * x * x)));
  } else {
    return x;
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

}  // namespace gencast::cuda
