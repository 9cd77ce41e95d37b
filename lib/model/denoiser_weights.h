// The denoiser's parameters on a backend, rearranged for the computation.
//
// Rearrangements are exact algebra on the checkpoint's weights:
//  * first layers that act on a concatenation [a | b | c] are split by rows,
//    so W·[a;b;c] = Wa·a + Wb·b + Wc·c and per-node parts can be computed once
//    per node instead of once per edge;
//  * the grid-node embedder's rows are split into the rows that see the noisy
//    targets (in target-channel order) and the rows that see everything else
//    (conditioning inputs/forcings, then the 3 structural node features); the
//    latter block gets zero rows up to a multiple of 8 (its input gets zero
//    columns): GEMM operands whose rows are a multiple of 16 bytes run on
//    cuBLASLt's fast kernels, and zero rows times zero columns add nothing;
//  * for the same alignment reason the noisy-target rows also come as a
//    block-diagonal diag(W, ..., W) that multiplies `group` grid nodes per GEMM
//    row (see grid_embed_row_group);
//  * the mesh-node embedder only ever sees zeros in its first 264 inputs, so
//    only its last 3 rows (structural features) are kept;
//  * q, k, v projections are concatenated into one [d, 3d] matrix.
#pragma once

#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/model_config.h"
#include "model/noise_encoder.h"
#include "model/param_store.h"

namespace gencast {

struct LinearWeights {
  Tensor w;  // [in, out]
  Tensor b;  // [out] (undefined when the layer has no bias)
  const Tensor* bias() const { return b.defined() && b.numel() > 0 ? &b : nullptr; }
};

// An MLP whose first layer is split into row blocks (one per input part).
struct SplitMlp {
  std::vector<Tensor> first_parts;  // [in_i, hidden] each
  Tensor first_bias;                // [hidden]
  std::vector<LinearWeights> rest;  // remaining layers; swish between layers
  int conditioning_site = -1;       // index of its LayerNorm conditioning, -1 = no LayerNorm
};

struct TransformerBlockWeights {
  Tensor w_qkv;            // [d, 3d] = [Wq | Wk | Wv]
  LinearWeights attn_out;  // mha_final
  LinearWeights ffw_up, ffw_down;
  int attn_site = -1, ffw_site = -1;
};

struct DenoiserWeights {
  // Encoder (grid2mesh_gnn)
  SplitMlp grid_embed;       // parts: [conditioning+structural+zero rows, noisy-target rows]
  // diag(W, ..., W) of the noisy-target rows W [T, L], `grid_embed_group`
  // copies: [group*T, group*L]; undefined when the group is 1.
  Tensor grid_embed_targets_grouped;
  int64_t grid_embed_group = 1;
  SplitMlp mesh_embed;       // parts: [structural rows]
  SplitMlp g2m_edge_embed;   // parts: [edge features]
  SplitMlp g2m_edge_update;  // parts: [edge latent, sender (grid), receiver (mesh)]
  SplitMlp g2m_mesh_update;  // parts: [mesh latent, aggregated messages]
  SplitMlp g2m_grid_update;  // parts: [grid latent]
  // Processor (mesh_transformer)
  std::vector<TransformerBlockWeights> blocks;
  int final_site = -1;
  // Decoder (mesh2grid_gnn); its mesh-node update does not influence the
  // output, so it is never computed.
  SplitMlp m2g_edge_embed;   // parts: [edge features]
  SplitMlp m2g_edge_update;  // parts: [edge latent, sender (mesh), receiver (grid)]
  SplitMlp m2g_grid_update;  // parts: [grid latent, aggregated messages]
  SplitMlp output_mlp;       // parts: [grid latent], no LayerNorm
  // Every LayerNorm's conditioning layer, evaluated on the host per call.
  std::vector<NormConditioningLayer> conditioning;
};

// How the 264 stacked grid channels of the reference map onto our inputs:
// rows of the grid embedder's first layer for the conditioning features (in
// the order we feed them) and for the 84 noisy-target channels.
struct GridInputRows {
  std::vector<int> conditioning_rows;  // row in linear_0 for each conditioning feature
  std::vector<int> target_rows;        // row in linear_0 for each target channel
};

// Rows of the grid embedder's static input ([conditioning | structural]
// features, `width` of them) padded to a multiple of 8: 16 bytes in bf16.
int64_t padded_static_width(int64_t width);

// Smallest count of rows (1 or 2) of a `cols`-wide tensor of `dtype` whose
// bytes are a multiple of 16, so that a GEMM reading that many rows as one has
// a 16-byte leading dimension: 84 noisy targets in bf16 are 168 bytes a row,
// a pair is 336. 1 when already aligned, and when 2 rows would not be either
// (more rows would multiply the GEMM's FLOPs by more than the fast kernels gain).
int64_t grid_embed_row_group(int64_t cols, DType dtype);

// target_row_group: copies in grid_embed_targets_grouped (1 = none).
DenoiserWeights upload_denoiser_weights(Backend& backend, const ModelConfig& config,
                                        const ParamStore& params, const GridInputRows& rows,
                                        int64_t target_row_group = 1);

}  // namespace gencast
