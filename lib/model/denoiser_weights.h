// The denoiser's parameters on a backend, rearranged for the computation.
//
// Rearrangements are exact algebra on the checkpoint's weights:
//  * first layers that act on a concatenation [a | b | c] are split by rows,
//    so W·[a;b;c] = Wa·a + Wb·b + Wc·c and per-node parts can be computed once
//    per node instead of once per edge;
//  * the grid-node embedder's first layer is reordered into one stacked
//    weight for the input row [static | noisy targets | 0]: the rows that see
//    the conditioning inputs/forcings (in the order we feed them) and the 3
//    structural node features, zero rows up to a multiple of 8, then the rows
//    that see the noisy targets (in target-channel order), zero rows up to a
//    multiple of 8 again. Both blocks start and end 16-byte aligned in bf16
//    (GEMM operands whose rows are a multiple of 16 bytes run on cuBLASLt's
//    fast kernels) and zero rows meet zero input columns, adding nothing;
//  * the mesh-node embedder only ever sees zeros in its first 264 inputs, so
//    only its last 3 rows (structural features) are kept;
//  * q, k, v projections are concatenated into one [d, 3d] matrix.
#pragma once

#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"
#include "config/param_store.h"
#include "model/noise_encoder.h"

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
  // parts: one stacked [grid_embed_input_width, L] weight (see the file comment).
  SplitMlp grid_embed;
  int64_t grid_embed_target_col = 0;  // first row of the noisy-target block
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
  // What the tensors above take on the device: bytes (numel x element size),
  // allocations, and the elements of the largest one.
  int64_t device_bytes = 0, device_tensors = 0, largest_tensor = 0;
};

// How the 264 stacked grid channels of the reference map onto our inputs:
// rows of the grid embedder's first layer for the conditioning features (in
// the order we feed them) and for the 84 noisy-target channels.
struct GridInputRows {
  std::vector<int> conditioning_rows;  // row in linear_0 for each conditioning feature
  std::vector<int> target_rows;        // row in linear_0 for each target channel
};

// A block of the grid embedder's input row padded to a multiple of 8
// columns: 16 bytes in bf16, 32 in f32.
int64_t padded_embed_width(int64_t width);

// Columns of the grid embedder's input row [static | 0 | noisy targets | 0]
// for `static_features` (conditioning + structural) and `targets` columns:
// at 0.25°, 184 + 88 = 272 for 183 static features and 84 targets.
int64_t grid_embed_input_width(int64_t static_features, int64_t targets);

DenoiserWeights upload_denoiser_weights(Backend& backend, const ModelConfig& config,
                                        const ParamStore& params, const GridInputRows& rows);

// The same recipe without a backend or parameter values, for sizing: tensors
// stay undefined, conditioning layers are zeros of their shapes (sizes from
// expected_param_shapes), and device_bytes/device_tensors are exactly what
// upload_denoiser_weights allocates for `n_conditioning` conditioning
// features and `n_targets` targets on a backend computing in `compute`.
DenoiserWeights denoiser_weight_layout(const ModelConfig& config, int64_t n_conditioning,
                                       int64_t n_targets, DType compute);

}  // namespace gencast
