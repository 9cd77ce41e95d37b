#include "runtime/model_setup.h"

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "graph/batch_graph.h"
#include "model/config_validation.h"

namespace gencast {

bool edge_cache_enabled(EdgeCache mode, int64_t cache_bytes, size_t free_bytes) {
  switch (mode) {
    case EdgeCache::on: return true;
    case EdgeCache::off: return false;
    case EdgeCache::automatic: break;
  }
  return static_cast<double>(cache_bytes) <= 0.25 * static_cast<double>(free_bytes);
}

GridInputRows grid_input_rows(const GridFeatureLayout& layout) {
  GridInputRows rows;
  rows.conditioning_rows.assign(static_cast<size_t>(layout.n_conditioning), -1);
  rows.target_rows.assign(static_cast<size_t>(layout.n_targets), -1);
  for (int s = 0; s < layout.channels(); ++s) {
    const auto i = static_cast<size_t>(s);
    if (layout.kind[i] == kChannelNoisyTarget)
      rows.target_rows.at(static_cast<size_t>(layout.target_index[i])) = s;
    else
      rows.conditioning_rows.at(static_cast<size_t>(layout.cond_index[i])) = s;
  }
  for (int r : rows.conditioning_rows)
    if (r < 0) throw RuntimeFailure("grid layout: a conditioning channel has no slot");
  for (int r : rows.target_rows)
    if (r < 0) throw RuntimeFailure("grid layout: a target channel has no slot");
  return rows;
}

GraphBuildOptions graph_options(const ModelConfig& config, const std::string& source) {
  GraphBuildOptions o;
  o.mesh_size = static_cast<int>(config.denoiser.mesh_size);
  o.attention_k_hop = static_cast<int>(config.denoiser.sparse_transformer_config.attention_k_hop);
  o.radius_fraction = config.denoiser.radius_query_fraction_edge_length;
  o.source = source;
  return o;
}

int64_t PreparedModel::edge_cache_bytes(const Backend& backend, int64_t batch) const {
  DenoiserOptions options;
  options.cache_edge_embeddings = true;
  options.edge_cache_f32_storage = precision_info(backend.precision()).edge_cache;
  const DenoiserSizes sizes = denoiser_sizes(graph, grid_input_rows(layout), options);
  // The cache holds one row per edge: `batch` copies of the graph, `batch` times the rows.
  return batch *
         denoiser_memory(checkpoint.config, sizes, options, backend.compute_dtype()).edge_cache;
}

std::unique_ptr<Denoiser> PreparedModel::make_denoiser(Backend& backend, int64_t chunk_rows,
                                                       EdgeCache edge_cache,
                                                       int64_t segment_split_edges,
                                                       int64_t batch, bool fused_edges) const {
  DenoiserOptions options;
  options.chunk_rows = chunk_rows;
  options.segment_split_edges = segment_split_edges;
  options.edge_cache_f32_storage = precision_info(backend.precision()).edge_cache;
  options.fused_edges = fused_edges;
  options.attention = attention.kind;
  const int64_t bytes = edge_cache_bytes(backend, batch);
  options.cache_edge_embeddings = edge_cache_enabled(edge_cache, bytes, backend.free_memory_bytes());
  spdlog::info("edge embedding cache: {} ({:.2f} GB)", options.cache_edge_embeddings ? "on" : "off",
               static_cast<double>(bytes) / 1e9);
  if (batch == 1)
    return std::make_unique<Denoiser>(backend, checkpoint.config, checkpoint.params, graph,
                                      grid_input_rows(layout), options);
  // The denoiser uploads what it needs in its constructor: the host copy of
  // the batched graph is dropped right after.
  const DenoiserGraph batched = replicate_graph(graph, batch);
  return std::make_unique<Denoiser>(backend, checkpoint.config, checkpoint.params, batched,
                                    grid_input_rows(layout), options);
}

PreparedModel prepare_model(Checkpoint checkpoint, const std::string& attention_request,
                            const std::vector<float>& lat, const std::vector<float>& lon,
                            const GraphBuildOptions* graph_override) {
  PreparedModel m;
  validate_model_config(checkpoint.config, checkpoint.path);
  m.attention = resolve_attention(checkpoint.config.denoiser.sparse_transformer_config,
                                  attention_request);
  if (m.attention.patched) spdlog::info("GPU attention patch: {}", m.attention.patch_line);
  spdlog::info("attention: {}", m.attention.description);
  m.layout = grid_feature_layout(checkpoint.config.task);
  const GraphBuildOptions options =
      graph_override ? *graph_override : graph_options(checkpoint.config, checkpoint.path);
  m.graph = build_denoiser_graph(lat, lon, options);
  spdlog::info("graph: {} grid nodes, {} mesh nodes, {} grid2mesh / {} mesh2grid edges, "
               "{} attention pairs ({:.1f} s)",
               m.graph.n_grid, m.graph.n_mesh, m.graph.grid2mesh.size(), m.graph.mesh2grid.size(),
               m.graph.attention.nnz(), m.graph.timings.total);
  m.checkpoint = std::move(checkpoint);
  return m;
}

}  // namespace gencast
