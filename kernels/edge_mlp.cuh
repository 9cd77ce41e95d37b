// The fused edge MLP of a message-passing step (bf16, tensor cores): for the
// edges of one chunk, sorted by segment (receiver or piece),
//
//   h_e  = swish(x[e] @ w0 + b0 + sender_proj[senders[e]] + receiver_proj[receivers[e]])
//   y[s] = sum over e in segment s of LN(h_e @ w1 + b1) * (1 + cond[0:C]) + cond[C:2C]
//
// with the per-edge latents kept on chip: one CTA tile holds the rows of
// whole segments (at most kEdgeTileRows edges, planned on the host by
// plan_edge_tiles), both GEMMs run on mma.sync from shared memory, and only
// x, the projections' rows and y touch device memory. See edge_mlp.cu.
//
// Invariants: x, w0, w1, sender_proj and receiver_proj are bf16; b0, b1 and
// cond f32; y bf16 or f32; senders/receivers/offsets/tiles i32 on the device.
// offsets [segments + 1] are read relative to offsets[0] (the segment_sum
// contract); tiles [n_tiles + 1] are segment indices from 0 to `segments`.
// A gather index out of range or a tile of more than kEdgeTileRows edges makes
// the affected outputs NaN instead of touching memory outside the buffers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"

namespace gencast::cuda {

struct EdgeMlpDeviceArgs {
  const void* x = nullptr;  // [rows_x, C] bf16
  int64_t rows_x = 0;
  const void* w0 = nullptr;  // [C, C] bf16
  const float* b0 = nullptr;  // [C]
  const void* sender_proj = nullptr;  // [rows_s, C] bf16
  int64_t rows_s = 0;
  const int32_t* senders = nullptr;  // [rows_x]
  const void* receiver_proj = nullptr;  // [rows_r, C] bf16
  int64_t rows_r = 0;
  const int32_t* receivers = nullptr;  // [rows_x]
  const void* w1 = nullptr;  // [C, C] bf16
  const float* b1 = nullptr;  // [C]
  const float* cond = nullptr;  // [2C]
  const int32_t* offsets = nullptr;  // [segments + 1]
  const int32_t* tiles = nullptr;    // [n_tiles + 1]
  int64_t n_tiles = 0;
  void* y = nullptr;  // [segments, C]
  DType ty = DType::bf16;
  int64_t segments = 0;
  int64_t cols = 0;  // C
};

// Whether edge_mlp_launch has a kernel for C columns on the current device
// (C in {32, 512}: the test model's and the official latent size; sm_80+ with
// enough shared memory per block).
bool edge_mlp_supported(int64_t cols);

// Development A/B knob (tests, perf runs): 0 = the default kernel shape,
// 1 = 16-row weight slices in a 5-deep ring with padded rows, 2 = 32-row
// slices in a 3-deep ring with swizzled rows (the default at C = 512).
// Process-wide; C = 32 has one shape.
void set_edge_mlp_variant(int variant);

// Launches the fused kernel; returns false, launching nothing, when
// edge_mlp_supported(cols) is false or a pointer is misaligned for it.
bool edge_mlp_launch(const EdgeMlpDeviceArgs& args, cudaStream_t stream);

}  // namespace gencast::cuda
