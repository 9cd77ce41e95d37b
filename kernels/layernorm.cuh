// LayerNorm without learned affine followed by noise-level conditioning:
// y = (accumulate ? y : 0) + (x - mean) / sqrt(var + 1e-5) * (1 + cond[c]) + cond[C + c].
//
// Invariants: statistics in float32, two passes over the row (mean, then the
// sum of squared deviations, so no cancellation); x and y are f32 or bf16
// independently, or x f32 and y f16 (tf32's f16 GEMM operands); cond is f32
// [2C]; x and y must not overlap (checked by the backend method).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"

namespace gencast::cuda {

void layer_norm_cond_launch(const void* x, DType tx, const float* cond, void* y, DType ty,
                            int64_t rows, int64_t cols, bool accumulate, cudaStream_t stream);

}  // namespace gencast::cuda
