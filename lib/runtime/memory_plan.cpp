#include "runtime/memory_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "backend/edge_tiles.h"
#include "backend/plan_sizes.h"
#include "config/stacking.h"
#include "runtime/model_setup.h"
#include "sampler/dpm_solver.h"

namespace gencast {
namespace {

// The longest mesh edge chord of an icosahedron refined s times, times 2^s:
// 1.317..1.323 for the reference's meshes 3..6 (tests/data/gencast_tiny/
// graph_facts.json), rounded up.
constexpr double kMaxChordTimesRefinement = 1.33;
// grid2mesh edges per grid node. A grid node connects to the mesh nodes
// within radius_fraction (0.6) of the longest mesh edge, about as many
// wherever it lies, so the count scales with the grid and hardly with the
// mesh: 1.558..1.578 on the reference's 1° and 0.25° grids with meshes 4..6
// (graph_facts.json), rounded up.
constexpr double kGrid2MeshPerGridNode = 1.6;
// The two-level sums' chunks hold the heaviest receivers; their receivers
// are counted as if of at least half the average degree.
constexpr int64_t kSplitChunkDegreeDivisor = 2;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

DenoiserSizes estimate_denoiser_sizes(const ModelConfig& config, int64_t n_lat, int64_t n_lon,
                                      const DenoiserOptions& options) {
  const GridFeatureLayout layout = grid_feature_layout(config.task);
  DenoiserSizes s;
  const int64_t G = n_lat * n_lon;
  int64_t refinement = 1;  // 2^mesh_size
  for (int64_t i = 0; i < config.denoiser.mesh_size; ++i) refinement *= 2;
  const int64_t M = 10 * refinement * refinement + 2;  // vertices of the refined icosahedron
  s.n_grid = G;
  s.n_mesh = M;
  s.n_conditioning = layout.n_conditioning;
  s.n_targets = layout.n_targets;
  s.mesh2grid_edges = 3 * G;  // the containing triangle's vertices
  s.grid2mesh_edges = static_cast<int64_t>(std::ceil(kGrid2MeshPerGridNode * static_cast<double>(G)));
  // A k-hop disc of the (mostly hexagonal) mesh holds 3k^2 + 3k + 1 nodes
  // (fewer around the 12 pentagons): 38,142 pairs estimated as 39,162 for
  // mesh 3 with 4 hops, 33.28 M as 33.46 M for mesh 6 with 16.
  const int64_t k = config.denoiser.sparse_transformer_config.attention_k_hop;
  s.attention_nnz = M * std::min(M, 3 * k * k + 3 * k + 1);

  // The heaviest grid2mesh receiver is a mesh node by a pole, which reaches
  // the n_lon grid nodes of every row within the radius: estimated 5,530 for
  // 3,753 at 0.25° and 616 for 451 at 1° with mesh 6.
  const double radius_deg = config.denoiser.radius_query_fraction_edge_length *
                            kMaxChordTimesRefinement / static_cast<double>(refinement) * 180.0 /
                            std::numbers::pi;
  const double row_deg = 180.0 / static_cast<double>(std::max<int64_t>(n_lat - 1, 1));
  const int64_t heaviest = std::min(
      s.grid2mesh_edges,
      static_cast<int64_t>(std::ceil(static_cast<double>(n_lon) * (radius_deg / row_deg + 1))));
  // Chunks hold at most chunk_rows edges and receivers, or one heavier
  // receiver (Denoiser::plan_chunks); grid nodes go chunk_rows at a time.
  const int64_t C = options.chunk_rows;
  s.scratch_rows = std::max({std::min(C, G), std::min(C, s.mesh2grid_edges),
                             std::min(C, s.grid2mesh_edges), heaviest, int64_t{3}});

  // Two-level sums where a chunk holds a receiver above K edges: a receiver
  // of d edges owns ceil(d / K) pieces (model/segment_split.h).
  const int64_t K = options.segment_split_edges;
  if (K > 0 && heaviest > K) {
    s.grid2mesh_pieces = M + ceil_div(s.grid2mesh_edges, K);
    const int64_t receivers =
        std::min(M, kSplitChunkDegreeDivisor * s.scratch_rows * M / s.grid2mesh_edges + 1);
    s.partial_rows = std::min(s.grid2mesh_pieces, ceil_div(s.scratch_rows, K) + receivers);
  }
  if (K > 0 && 3 > K) {
    s.mesh2grid_pieces = G * ceil_div(3, K);
    s.partial_rows = std::max(s.partial_rows, (s.scratch_rows / 3 + 1) * ceil_div(3, K));
  }
  // The fused edge MLP's tile tables (an upper bound): a greedy tile closes
  // when the next segment would bring it past kEdgeTileRows edges or
  // segments, so two neighbouring tiles hold more than that together; a
  // chunk of e edges and r segments has at most 2 (e + r) / kEdgeTileRows + 1
  // tiles and one boundary more.
  if (options.fused_edges && options.cache_edge_embeddings) {
    const auto entries = [&](int64_t edges, int64_t receivers) {
      return ceil_div(2 * (edges + receivers), kEdgeTileRows) +
             2 * ceil_div(edges, options.chunk_rows);
    };
    s.grid2mesh_tile_entries = entries(s.grid2mesh_edges, M);
    s.mesh2grid_tile_entries = entries(s.mesh2grid_edges, G);
  }
  return s;
}

MemoryEstimate estimate_forecast_memory(const ModelConfig& config, int64_t n_lat, int64_t n_lon,
                                        Precision precision, int64_t chunk_rows) {
  const DType compute = precision_info(precision).activations;
  DenoiserOptions options;
  options.chunk_rows = chunk_rows;
  options.cache_edge_embeddings = true;  // for its size; the runtime decides (not in total())
  options.edge_cache_f32_storage = precision_info(precision).edge_cache;
  const DenoiserSizes sizes = estimate_denoiser_sizes(config, n_lat, n_lon, options);
  const DenoiserMemory denoiser = denoiser_memory(config, sizes, options, compute);

  MemoryEstimate e;
  e.weights = denoiser.weights;
  e.graph = denoiser.graph +
            estimate_attention_plan_bytes(sizes.n_mesh, sizes.attention_nnz,
                                          config.denoiser.sparse_transformer_config.num_heads);
  // A bf16 upload converts from a float32 copy on the device while it runs.
  e.activations =
      denoiser.activations + (compute == DType::bf16 ? denoiser.largest_upload * 4 : 0);
  // tf32's attention on Hopper reads an f16 copy of q|k|v, made per call
  // (kernels/attention_tf32_route.cu).
  if (precision == Precision::tf32)
    e.activations += sizes.n_mesh * 3 * config.denoiser.latent_size * 2;
  // The forecast's float32 state x [G, targets], the step transition's
  // physical fields and residual bases (same shape) and land mask [G], the
  // sampler's temporaries and the noise plan's tables.
  const Shape state{sizes.n_grid, sizes.n_targets};
  e.sampler = 3 * shape_numel(state) * 4 + sizes.n_grid * 4 +
              sampler_step_bytes(state, DType::f32) + noise_plan_sizes(n_lat, n_lon).bytes();
  // cuBLASLt's 32 MiB workspace, cuFFT's plans, and the CUDA allocator's
  // rounding of every tensor up to 512 bytes.
  constexpr int64_t kGranule = 512, kOtherTensors = 16;
  e.workspace = (int64_t{64} << 20) +
                (denoiser.tensors + NoisePlanSizes::kTensors + kOtherTensors) * kGranule;
  e.edge_cache = denoiser.edge_cache;
  return e;
}

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1e9) std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  else if (bytes >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f kB", bytes / 1e3);
  return buf;
}

MemoryEstimate scale_for_batch(const MemoryEstimate& one, int64_t batch) {
  MemoryEstimate e = one;
  e.graph *= batch;
  e.activations *= batch;
  e.sampler *= batch;
  e.edge_cache *= batch;
  return e;
}

MemoryEstimate scale_for_workers(const MemoryEstimate& one, int64_t workers) {
  MemoryEstimate e = one;
  e.weights *= workers;
  e.graph *= workers;
  e.activations *= workers;
  e.sampler *= workers;
  e.workspace *= workers;
  e.edge_cache *= workers;
  return e;
}

int64_t members_per_worker(int64_t members, int64_t workers) {
  return (members + workers - 1) / workers;
}

int64_t resolve_batch(int64_t requested, const MemoryEstimate& one, EdgeCache edge_cache,
                      const Backend& backend, int64_t max_useful) {
  if (requested != kBatchAuto) return requested;
  const size_t free_bytes = backend.free_memory_bytes();
  return choose_batch(one, edge_cache_enabled(edge_cache, one.edge_cache, free_bytes), free_bytes,
                      max_useful, backend.name() != "cpu");
}

void check_device_memory(const Backend& backend, const MemoryEstimate& estimate,
                         ProblemList& problems) {
  const auto free_bytes = static_cast<double>(backend.free_memory_bytes());
  if (free_bytes > 0 && static_cast<double>(estimate.total()) > free_bytes)
    problems.add("", "runtime.device",
                 "at most " + format_bytes(free_bytes) + " of memory (free on " +
                     backend.device_name() + ")",
                 "an estimated " + format_bytes(static_cast<double>(estimate.total())) +
                     " for this run",
                 "use --precision bf16, a coarser grid, or a device with more memory");
}

int64_t choose_batch(const MemoryEstimate& one, bool cache, size_t free_bytes,
                     int64_t max_useful, bool gpu) {
  if (!gpu) return 1;
  const int64_t cap = std::max<int64_t>(1, std::min<int64_t>(8, max_useful));
  for (int64_t b = cap; b > 1; --b) {
    const MemoryEstimate e = scale_for_batch(one, b);
    const double need = static_cast<double>(e.total() + (cache ? e.edge_cache : 0));
    if (need <= 0.8 * static_cast<double>(free_bytes)) return b;
  }
  return 1;
}

}  // namespace gencast
