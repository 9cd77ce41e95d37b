// Elementwise ops on f32/bf16 buffers: out = a*x + b*y with any mix of
// element types, conversion copies (whole buffers, or scaled into a column
// range of wider rows), fill, and an in-place activation pass (used after
// GEMMs whose epilogue cannot apply the activation).
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
// f32 <-> f16 (the storage-only half type, core/dtype.h), round to nearest even.
void convert_half_launch(const void* src, DType tsrc, void* dst, DType tdst, int64_t n,
                         cudaStream_t stream);
void fill_launch(void* dst, DType t, float value, int64_t n, cudaStream_t stream);
// dst[r * dst_cols + col0 + c] = scale * src[r * src_cols + c] for r < rows,
// c < src_cols (src and dst must not overlap); dst's other columns untouched.
void copy_columns_launch(const void* src, DType tsrc, float scale, void* dst, DType tdst,
                         int64_t rows, int64_t src_cols, int64_t dst_cols, int64_t col0,
                         cudaStream_t stream);
void activation_launch(void* y, DType t, Activation act, int64_t n, cudaStream_t stream);

}  // namespace gencast::cuda
