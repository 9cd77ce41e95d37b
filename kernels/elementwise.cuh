// Elementwise ops on f32/bf16 buffers: out = a*x + b*y with any mix of
// element types, conversion copies, fill, and an in-place activation pass
// (used after GEMMs whose epilogue cannot apply the activation).
//
// Invariants: every launcher works on flat element counts, accepts n == 0,
// allows out to alias x or y (each element is read before it is written by
// the same thread) and checks the launch.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"

namespace gencast::cuda {

void axpby_launch(float a, const void* x, DType tx, float b, const void* y, DType ty, void* out,
                  DType tout, int64_t n, cudaStream_t stream);
void convert_launch(const void* src, DType tsrc, void* dst, DType tdst, int64_t n,
                    cudaStream_t stream);
void fill_launch(void* dst, DType t, float value, int64_t n, cudaStream_t stream);
void activation_launch(void* y, DType t, Activation act, int64_t n, cudaStream_t stream);

}  // namespace gencast::cuda
