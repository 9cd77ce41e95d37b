// Graph message passing ops: per-edge gathers of node projections and
// per-receiver segment sums.
//
//   gather2_add_act: y[r] = act(y[r] + a[ia[r]] + b[ib[r]])
//   segment_sum:     y[n] = sum_{e in [off[n], off[n+1])} x[e - off[0]]
//
// Invariants: index/offset arrays live on the device and are not read back
// (no host round trip); an out-of-range index or an offset range outside x
// makes the affected output row NaN instead of touching memory outside the
// buffers, so a broken graph is caught by any finiteness check. Segment sums
// accumulate in float32 in edge order, one warp per receiver row: the result
// is deterministic (no atomics).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"

namespace gencast::cuda {

// a [rows_a, C], b [rows_b, C] (same dtype), ia/ib i32 [R], y [R, C].
void gather2_add_act_launch(const void* a, int64_t rows_a, const int32_t* ia, const void* b,
                            int64_t rows_b, const int32_t* ib, DType tab, void* y, DType ty,
                            int64_t rows, int64_t cols, Activation act, cudaStream_t stream);

// y[n] = sum over the segment of LN(x[e]) * (1 + cond[0:C]) + cond[C:2C]
// (layernorm.cuh's LayerNorm, float32 statistics), one warp per receiver with
// the row in registers. Returns false, launching nothing, when C is above 512
// (the register budget); the caller then composes layer_norm_cond and
// segment_sum.
bool layer_norm_cond_segment_sum_launch(const void* x, DType tx, int64_t rows_x,
                                        const float* cond, const int32_t* offsets, void* y,
                                        DType ty, int64_t rows, int64_t cols, cudaStream_t stream);

// x [rows_x, C], offsets i32 [rows + 1], y [rows, C].
void segment_sum_launch(const void* x, DType tx, int64_t rows_x, const int32_t* offsets, void* y,
                        DType ty, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace gencast::cuda
