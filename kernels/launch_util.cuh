// Host-side helpers for the *_launch functions: grid sizing, alignment tests
// and dispatch from a runtime DType to a compile-time element type.
//
// Invariants: grids are capped so that every kernel using them must be a
// grid-stride loop (or index rows with blockIdx.x < the cap); dispatch only
// accepts f32 and bf16 (i32 tensors never reach arithmetic kernels) and throws
// std::invalid_argument otherwise.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

#include "backend/tensor.h"
#include "device_math.cuh"

namespace gencast::cuda {

// Blocks for a grid-stride loop over `work` items at `block` threads each.
inline unsigned grid_for(int64_t work, int block) {
  const int64_t blocks = (work + block - 1) / block;
  // 2^20 blocks keep every SM busy many times over; the loop covers the rest.
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, int64_t{1} << 20));
}

inline bool is_aligned(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

// Whether VEC-wide access (device_math.cuh's load_vec/store_vec) is allowed
// over n elements at each pointer: n % VEC == 0 and every pointer aligned to
// its accesses (VEC elements, at most 16 bytes: wider vectors are several
// 16-byte accesses).
inline bool can_vec(int64_t n, int vec, std::initializer_list<std::pair<const void*, DType>> ptrs) {
  if (n % vec != 0) return false;
  for (const auto& [p, t] : ptrs)
    if (!is_aligned(p, std::min<size_t>(16, static_cast<size_t>(vec) * dtype_size(t)))) return false;
  return true;
}

// Calls f(std::integral_constant<int, VEC>{}) with the widest VEC of 8, 4, 1
// that can_vec allows: 8 makes bf16 accesses 16 bytes wide.
template <class F>
void with_vec(int64_t n, std::initializer_list<std::pair<const void*, DType>> ptrs, F&& f) {
  if (can_vec(n, 8, ptrs))
    f(std::integral_constant<int, 8>{});
  else if (can_vec(n, 4, ptrs))
    f(std::integral_constant<int, 4>{});
  else
    f(std::integral_constant<int, 1>{});
}

// Calls f(T{}) with T = float or bf16 according to `t`.
template <class F>
void dispatch_float_type(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); return;
    case DType::bf16: f(bf16{}); return;
    default:
      throw std::invalid_argument(std::string("cuda backend ") + op +
                                  ": expected an f32 or bf16 tensor, found " + dtype_name(t));
  }
}

}  // namespace gencast::cuda
