#include "model/denoiser_memory.h"

#include <algorithm>

#include "model/denoiser_weights.h"
#include "model/param_schema.h"

namespace gencast {

// Mirrors the Denoiser constructor, tensor by tensor, in its order (the
// constructor checks the totals: see the header).
DenoiserMemory denoiser_memory(const ModelConfig& config, const DenoiserSizes& s,
                               const DenoiserOptions& options, DType compute) {
  const auto elem = static_cast<int64_t>(dtype_size(compute));
  constexpr int64_t f32 = 4, i32 = 4;
  const int64_t G = s.n_grid, M = s.n_mesh, T = s.n_targets, C = s.scratch_rows;
  const int64_t L = config.denoiser.latent_size;
  const int64_t F = config.denoiser.sparse_transformer_config.ffw_hidden;
  const DenoiserWeights w = denoiser_weight_layout(config, s.n_conditioning, T, compute);

  DenoiserMemory m;
  const auto add = [&m](int64_t& part, int64_t elements, int64_t element_bytes) {
    part += elements * element_bytes;
    ++m.tensors;
  };
  m.weights = w.device_bytes;
  m.tensors = w.device_tensors;

  // Grid embedder input rows [G, width], grid latents and projections.
  const int64_t width = grid_embed_input_width(s.n_conditioning + kStructuralNodeFeatures, T);
  add(m.activations, G * width, elem);
  add(m.activations, G * L, elem);
  add(m.activations, G * L, elem);
  add(m.graph, M * kStructuralNodeFeatures, elem);  // mesh node features
  // Mesh latents, projections, aggregates, hidden, final, attention output;
  // q|k|v; the transformer's feed-forward hidden layer.
  for (int i = 0; i < 6; ++i) add(m.activations, M * L, elem);
  add(m.activations, M * 3 * L, elem);
  add(m.activations, M * F, elem);
  if (transformer_f16_operands(options, compute)) {
    add(m.activations, M * L, 2);  // the f16 LayerNorm output
    for (size_t b = 0; b < w.blocks.size(); ++b) {  // f16 copies of w_qkv and ffw_up
      add(m.weights, L * 3 * L, 2);
      add(m.weights, L * F, 2);
    }
  }
  // Each edge set: features, senders, receivers, receiver offsets.
  for (const auto& [edges, receivers] : {std::pair{s.grid2mesh_edges, M}, std::pair{s.mesh2grid_edges, G}}) {
    add(m.graph, edges * kStructuralEdgeFeatures, elem);
    add(m.graph, edges, i32);
    add(m.graph, edges, i32);
    add(m.graph, receivers + 1, i32);
  }
  // Chunk scratch: three [C, L] and the output MLP's [C, T].
  for (int i = 0; i < 3; ++i) add(m.activations, C * L, elem);
  add(m.activations, C * T, elem);
  // Two-level sums: piece offsets and each receiver's first piece.
  for (const auto& [pieces, receivers] : {std::pair{s.grid2mesh_pieces, M}, std::pair{s.mesh2grid_pieces, G}}) {
    if (pieces == 0) continue;
    add(m.graph, pieces + 1, i32);
    add(m.graph, receivers + 1, i32);
  }
  add(m.activations, s.partial_rows * L, f32);  // float32 partial sums
  // The fused edge MLP's tile tables.
  for (const int64_t entries : {s.grid2mesh_tile_entries, s.mesh2grid_tile_entries})
    if (entries > 0) add(m.graph, entries, i32);
  // Conditioning values of every LayerNorm, and zeros for the unconditioned ones.
  int64_t conditioning = 0;
  for (const auto& layer : w.conditioning) conditioning += layer.w.dim(1);
  add(m.activations, conditioning, f32);
  add(m.activations, 2 * L, f32);
  if (options.cache_edge_embeddings) {
    const auto latent = static_cast<int64_t>(dtype_size(edge_cache_storage(options, compute)));
    for (const int64_t edges : {s.grid2mesh_edges, s.mesh2grid_edges}) {
      add(m.edge_cache, edges * L, latent);  // normalized embeddings
      add(m.edge_cache, L * L, elem);      // first layer with the conditioning folded in
      add(m.edge_cache, L, f32);           // its bias
      if (edge_cache_folded_half(options, compute)) add(m.edge_cache, L * L, 2);  // f16 copy
    }
  }
  // The noise-level cache: each entry's conditioning values; with the edge
  // cache, each edge set's folded first layer and bias per entry.
  const int64_t E = options.sigma_cache_entries;
  if (E > 0) {
    add(m.activations, E * conditioning, f32);
    if (options.cache_edge_embeddings)
      for (int i = 0; i < 2; ++i) {
        add(m.edge_cache, E * L * L, elem);
        add(m.edge_cache, E * L, f32);
      }
  }
  // set_conditioning uploads the input rows min(C, G) at a time; the graph's
  // edge features and the weights go up whole.
  m.largest_upload = std::max({std::min(C, G) * width, s.grid2mesh_edges * kStructuralEdgeFeatures,
                               s.mesh2grid_edges * kStructuralEdgeFeatures, w.largest_tensor});
  return m;
}

DType edge_cache_storage(const DenoiserOptions& options, DType compute) {
  return compute == DType::f32 ? options.edge_cache_f32_storage : compute;
}

bool edge_cache_folded_half(const DenoiserOptions& options, DType compute) {
  return compute == DType::f32 && edge_cache_storage(options, compute) == DType::f16;
}

bool transformer_f16_operands(const DenoiserOptions& options, DType compute) {
  return edge_cache_folded_half(options, compute);
}

}  // namespace gencast
