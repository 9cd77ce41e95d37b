// Loading a model for running: checkpoint + attention choice + graphs +
// channel layout -> a Denoiser on a backend. Shared by forecast, verify and
// bench so that they all run exactly the same model.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/run_options.h"
#include "config/stacking.h"
#include "graph/denoiser_graph.h"
#include "model/attention_choice.h"
#include "model/checkpoint.h"
#include "model/denoiser.h"

namespace gencast {

// The edge-cache rule: on, off, or automatic = on when the cache takes at most
// a quarter of the device's free memory.
bool edge_cache_enabled(EdgeCache mode, int64_t cache_bytes, size_t free_bytes);

// Which rows of the grid embedder's first layer see which of our inputs.
GridInputRows grid_input_rows(const GridFeatureLayout& layout);

// Graph options implied by a model config (mesh size, k-hop, radius).
GraphBuildOptions graph_options(const ModelConfig& config, const std::string& source);

// A model with its graphs, ready to make Denoisers on any backend.
struct PreparedModel {
  Checkpoint checkpoint;
  AttentionChoice attention;
  GridFeatureLayout layout;
  DenoiserGraph graph;

  // Bytes the edge-embedding cache would take on `backend` for `batch`
  // members per call (see DenoiserOptions).
  int64_t edge_cache_bytes(const Backend& backend, int64_t batch = 1) const;
  // edge_cache: see edge_cache_enabled.
  // segment_split_edges: see DenoiserOptions (0 = one-level segment sums).
  // batch: members per call; the denoiser then works on `batch` stacked
  // members' rows (graph/batch_graph.h): its n_grid() is batch * grid nodes.
  // fused_edges: see DenoiserOptions (off only for A/B timings).
  std::unique_ptr<Denoiser> make_denoiser(
      Backend& backend, int64_t chunk_rows = kDefaultChunkRows,
      EdgeCache edge_cache = EdgeCache::automatic,
      int64_t segment_split_edges = DenoiserOptions{}.segment_split_edges,
      int64_t batch = 1, bool fused_edges = DenoiserOptions{}.fused_edges) const;
};

// Loads and validates the checkpoint, resolves the attention request
// (auto|triblockdiag|sparse|dense; logs the GPU patch line when one is
// applied) and builds the graphs for the lat/lon grid.
PreparedModel prepare_model(Checkpoint checkpoint, const std::string& attention_request,
                            const std::vector<float>& lat, const std::vector<float>& lon,
                            const GraphBuildOptions* graph_override = nullptr);

}  // namespace gencast
