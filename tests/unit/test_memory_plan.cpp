// The memory plan against what the code allocates, on the CPU backend with
// the tiny fixture model (its 4° grid with poles):
//  * the Denoiser allocates exactly denoiser_memory() of its sizes: the CPU
//    backend counts every tensor's numel x element size (no rounding) and its
//    attention plan holds no tensors, so the backend's bytes must equal the
//    description to the byte, for every option that changes the layout (edge
//    cache, chunk rows, two-level sums), and a denoise() call allocates
//    nothing more;
//  * run_sampler_step allocates exactly sampler_step_bytes();
//  * the graph sizes that estimate_denoiser_sizes guesses from the grid are
//    within the stated factors of the built graph's, and so is the memory
//    they imply;
//  * in CUDA builds (host code, no GPU needed) the attention plan estimate
//    bounds the real tile layouts; with a GPU, the backend's own counts.
// Hidden cases ("[.][memory_0p25]") print the same comparisons at 0.25°.
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "backend/plan_sizes.h"
#include "devices/device_factory.h"
#include "model/checkpoint.h"
#include "model/denoiser.h"
#include "model/random_checkpoint.h"
#include "runtime/memory_plan.h"
#include "runtime/model_setup.h"
#include "sampler/dpm_solver.h"
#include "test_cuda_util.h"
#include "test_tiny_model.h"

#if GENCAST_WITH_CUDA
#include "attention_tiles.h"
#endif

using namespace gencast;
using gencast::testing::random_normal;
using gencast::testing::tiny_model;

namespace {



double ratio(int64_t estimate, int64_t actual) {
  return static_cast<double>(estimate) / static_cast<double>(actual);
}

}  // namespace

TEST_CASE("memory plan: the denoiser allocates exactly denoiser_memory() (CPU)", "[memory]") {
  const PreparedModel& model = tiny_model();
  const ModelConfig& config = model.checkpoint.config;
  const GridInputRows rows = grid_input_rows(model.layout);
  bool split_seen = false;
  // Small chunks (several per edge set, grid nodes in pieces), the default
  // (one chunk for everything on this grid); K = 2 splits both edge sets.
  for (const int64_t chunk_rows : {int64_t{700}, kDefaultChunkRows}) {
    for (const int64_t split_edges : {int64_t{64}, int64_t{2}, int64_t{0}}) {
      for (const bool cache : {false, true}) {
        INFO("chunk rows " << chunk_rows << ", split " << split_edges << ", cache " << cache);
        DenoiserOptions options;
        options.chunk_rows = chunk_rows;
        options.segment_split_edges = split_edges;
        options.cache_edge_embeddings = cache;
        options.attention = model.attention.kind;
        CpuBackend b;
        Denoiser d(b, config, model.checkpoint.params, model.graph, rows, options);
        const DenoiserSizes sizes = denoiser_sizes(model.graph, rows, options);
        const DenoiserMemory want = denoiser_memory(config, sizes, options, DType::f32);
        const auto built = static_cast<int64_t>(b.peak_memory_bytes());
        CHECK(built == want.total());
        CHECK(d.allocated().total() == want.total());
        CHECK(d.sizes().scratch_rows == sizes.scratch_rows);
        CHECK((want.edge_cache > 0) == cache);
        split_seen = split_seen || sizes.grid2mesh_pieces > 0;

        // A call allocates nothing beyond its input and output.
        d.set_conditioning(random_normal({d.n_grid(), d.n_conditioning()}, 1));
        const Tensor x = b.from_host(random_normal({d.n_grid(), d.n_targets()}, 2), DType::f32);
        Tensor out = b.empty({d.n_grid(), d.n_targets()}, DType::f32);
        d.denoise(3.f, x, out);
        CHECK(static_cast<int64_t>(b.peak_memory_bytes()) ==
              built + 2 * d.n_grid() * d.n_targets() * 4);
      }
    }
  }
  CHECK(split_seen);  // the two-level sums' tables were counted at least once
}

TEST_CASE("memory plan: run_sampler_step allocates exactly sampler_step_bytes() (CPU)",
          "[memory]") {
  CpuBackend b;
  Tensor x = b.empty({50, 3}, DType::f32);
  const auto before = static_cast<int64_t>(b.peak_memory_bytes());
  SamplerSchedule schedule;
  schedule.sigmas = {4.f, 1.f, 0.f};
  schedule.churn = {0.5f, 0.f};
  const DenoiseFn denoise = [&b](float, const Tensor& in, Tensor& out) {
    b.axpby(0.5f, in, 0.f, in, out);
  };
  const NoiseFn noise = [&b](uint32_t, Tensor& out) { b.fill(out, 1.f); };
  run_sampler_step(b, schedule, 1.f, 0, denoise, noise, x);
  CHECK(static_cast<int64_t>(b.peak_memory_bytes()) - before ==
        sampler_step_bytes(x.shape(), DType::f32));
}

// The estimates' factors on this grid (4°, mesh 3, 4 hops): grid2mesh edges
// are estimated at 1.6 per grid node (1.56..1.58 on the reference grids);
// attention pairs from full hexagonal k-hop discs (+2.7% here); the heaviest
// receivers (which decide the scratch rows for small chunks and whether sums
// split) from the polar rows within the radius; the partial-sum rows as an
// upper bound.
TEST_CASE("memory plan: graph sizes estimated from the grid match the built tiny graph",
          "[memory]") {
  const PreparedModel& model = tiny_model();
  const ModelConfig& config = model.checkpoint.config;
  const GridInputRows rows = grid_input_rows(model.layout);
  for (const int64_t chunk_rows : {int64_t{700}, kDefaultChunkRows}) {
    INFO("chunk rows " << chunk_rows);
    DenoiserOptions options;
    options.chunk_rows = chunk_rows;
    options.cache_edge_embeddings = true;
    const DenoiserSizes real = denoiser_sizes(model.graph, rows, options);
    const DenoiserSizes est = estimate_denoiser_sizes(config, 46, 90, options);
    std::printf(
        "tiny, chunk rows %lld: grid2mesh edges %lld (estimated %lld), attention pairs %lld "
        "(%lld), scratch rows %lld (%lld), grid2mesh pieces %lld (%lld), partial rows %lld "
        "(%lld)\n",
        static_cast<long long>(chunk_rows), static_cast<long long>(real.grid2mesh_edges),
        static_cast<long long>(est.grid2mesh_edges), static_cast<long long>(real.attention_nnz),
        static_cast<long long>(est.attention_nnz), static_cast<long long>(real.scratch_rows),
        static_cast<long long>(est.scratch_rows), static_cast<long long>(real.grid2mesh_pieces),
        static_cast<long long>(est.grid2mesh_pieces), static_cast<long long>(real.partial_rows),
        static_cast<long long>(est.partial_rows));
    // Exact.
    CHECK(est.n_grid == real.n_grid);
    CHECK(est.n_mesh == real.n_mesh);
    CHECK(est.n_conditioning == real.n_conditioning);
    CHECK(est.n_targets == real.n_targets);
    CHECK(est.mesh2grid_edges == real.mesh2grid_edges);
    CHECK(est.mesh2grid_pieces == real.mesh2grid_pieces);
    // Estimated, each within its stated factor.
    CHECK(ratio(est.grid2mesh_edges, real.grid2mesh_edges) == Approx(1.0).margin(0.1));
    CHECK(ratio(est.attention_nnz, real.attention_nnz) == Approx(1.0).margin(0.05));
    CHECK(ratio(est.scratch_rows, real.scratch_rows) == Approx(1.0).margin(0.1));
    CHECK((est.grid2mesh_pieces > 0) == (real.grid2mesh_pieces > 0));
    CHECK(ratio(est.grid2mesh_pieces, real.grid2mesh_pieces) == Approx(1.0).margin(0.25));
    CHECK(est.partial_rows >= real.partial_rows);
    CHECK(est.partial_rows <= 4 * real.partial_rows);

    // What they imply: within 5% of what the denoiser allocates.
    const DenoiserMemory want = denoiser_memory(config, real, options, DType::f32);
    const DenoiserMemory got = denoiser_memory(config, est, options, DType::f32);
    CHECK(got.weights == want.weights);
    CHECK(ratio(got.graph, want.graph) == Approx(1.0).margin(0.05));
    CHECK(ratio(got.activations, want.activations) == Approx(1.0).margin(0.05));
    CHECK(ratio(got.edge_cache, want.edge_cache) == Approx(1.0).margin(0.05));
    CHECK(ratio(got.total(), want.total()) == Approx(1.0).margin(0.05));

    // The forecast's estimate holds the denoiser's description, the sampler's
    // state and temporaries, plus the GPU's plans and workspace.
    const MemoryEstimate e = estimate_forecast_memory(config, 46, 90, Precision::fp32, chunk_rows);
    CHECK(e.weights == want.weights);
    CHECK(e.activations == got.activations);
    CHECK(e.edge_cache == got.edge_cache);
    CHECK(e.graph > got.graph);
    CHECK(e.sampler > 3 * real.n_grid * real.n_targets * 4);
    // tf32 adds the f16 copy of q|k|v that its attention reads on Hopper and
    // the f16 LayerNorm output and weight copies of its transformer GEMMs.
    const MemoryEstimate t = estimate_forecast_memory(config, 46, 90, Precision::tf32, chunk_rows);
    const int64_t L = config.denoiser.latent_size;
    const auto& tc = config.denoiser.sparse_transformer_config;
    CHECK(t.activations - e.activations == est.n_mesh * 3 * L * 2 + est.n_mesh * L * 2);
    CHECK(t.weights - e.weights == tc.num_layers * (L * 3 * L + L * tc.ffw_hidden) * 2);
  }
}

// On a GPU the CUDA backend rounds every tensor up to 512 bytes, a bf16
// upload goes through a float32 copy on the device, and the backend adds the
// attention plan's tables: the denoiser's peak lies between its description
// and the description plus those. The noise plan allocates exactly
// noise_plan_sizes() (rounded). Numbers are printed for the report of the
// attention plan estimate.
TEST_CASE("memory plan: on the GPU the denoiser and noise plan take what is described",
          "[cuda][memory]") {
  if (!test::cuda_available()) {
    test::print_cuda_skip();
    return;
  }
  constexpr int64_t kGranule = 512;
  const PreparedModel& model = tiny_model();
  const ModelConfig& config = model.checkpoint.config;
  const auto& tc = config.denoiser.sparse_transformer_config;
  const GridInputRows rows = grid_input_rows(model.layout);
  for (const Precision p : {Precision::fp32, Precision::bf16}) {
    for (const bool cache : {false, true}) {
      INFO(precision_name(p) << ", cache " << cache);
      auto gpu = make_backend("cuda:0", p);
      DenoiserOptions options;
      options.cache_edge_embeddings = cache;
      options.attention = model.attention.kind;
      const auto base = static_cast<int64_t>(gpu->peak_memory_bytes());
      Denoiser d(*gpu, config, model.checkpoint.params, model.graph, rows, options);
      gpu->synchronize();
      const int64_t used = static_cast<int64_t>(gpu->peak_memory_bytes()) - base;
      const DenoiserMemory want =
          denoiser_memory(config, d.sizes(), options, gpu->compute_dtype());
      const int64_t attention = estimate_attention_plan_bytes(
          d.sizes().n_mesh, d.sizes().attention_nnz, tc.num_heads);
      const int64_t staging = p == Precision::bf16 ? want.largest_upload * 4 + kGranule : 0;
      std::printf("gpu %s cache %d: peak %lld bytes, described %lld + rounding <= %lld + "
                  "attention plan (estimated) %lld + bf16 staging %lld\n",
                  precision_name(p), cache ? 1 : 0, static_cast<long long>(used),
                  static_cast<long long>(want.total()),
                  static_cast<long long>(want.tensors * kGranule),
                  static_cast<long long>(attention), static_cast<long long>(staging));
      CHECK(used >= want.total());
      CHECK(used <= want.total() + (want.tensors + 6) * kGranule + attention + staging);
    }
  }
  // The attention plan alone, in each tile mode, against its estimate.
  for (const AttentionTiles tiles :
       {AttentionTiles::sparse, AttentionTiles::banded, AttentionTiles::dense}) {
    auto gpu = make_backend("cuda:0", Precision::fp32);
    const auto base = static_cast<int64_t>(gpu->peak_memory_bytes());
    const auto plan = gpu->plan_attention(model.graph.attention, static_cast<int>(tc.num_heads),
                                          static_cast<int>(tc.d_model / tc.num_heads), tiles);
    const int64_t used = static_cast<int64_t>(gpu->peak_memory_bytes()) - base;
    const int64_t estimate = estimate_attention_plan_bytes(
        model.graph.n_mesh, model.graph.attention.nnz(), tc.num_heads);
    std::printf("gpu attention plan (tiles %d): %lld bytes, estimated %lld\n",
                static_cast<int>(tiles), static_cast<long long>(used),
                static_cast<long long>(estimate));
    CHECK(used <= estimate + 6 * kGranule);
  }
  auto gpu = make_backend("cuda:0", Precision::fp32);
  const auto base = static_cast<int64_t>(gpu->peak_memory_bytes());
  const auto noise = gpu->plan_noise(46, 90);
  const int64_t used = static_cast<int64_t>(gpu->peak_memory_bytes()) - base;
  const NoisePlanSizes sizes = noise_plan_sizes(46, 90);
  CHECK(used >= sizes.bytes());
  CHECK(used <= sizes.bytes() + NoisePlanSizes::kTensors * kGranule);
}

#if GENCAST_WITH_CUDA
namespace {

// Bytes of the tensors CudaBackend::plan_attention uploads for a layout.
int64_t tile_plan_bytes(const cuda::AttentionTileLayout& t, int64_t heads) {
  return 4 * static_cast<int64_t>(t.slots.size() + t.key_slots.size() + t.tile_offsets.size() +
                                  t.tile_key_block.size() + t.tile_mask.size()) +
         8 * static_cast<int64_t>(t.masks.size()) + 4 * t.k_blocks * heads * 2 +
         (t.nodes * heads + 3) / 4 * 4;
}

void check_attention_estimate(int mesh_size, int k_hop, int64_t heads, bool print_only) {
  GraphBuildOptions o;
  o.mesh_size = mesh_size;
  o.attention_k_hop = k_hop;
  std::vector<float> lat, lon;  // the grid does not change the mesh's neighbourhoods
  for (int i = 0; i < 46; ++i) lat.push_back(static_cast<float>(-90 + 4 * i));
  for (int i = 0; i < 90; ++i) lon.push_back(static_cast<float>(4 * i));
  const DenoiserGraph graph = build_denoiser_graph(lat, lon, o);
  const int64_t estimate =
      estimate_attention_plan_bytes(graph.n_mesh, graph.attention.nnz(), heads);
  for (const AttentionTiles mode :
       {AttentionTiles::sparse, AttentionTiles::banded, AttentionTiles::dense}) {
    const int64_t bytes = tile_plan_bytes(cuda::build_attention_tiles(graph.attention, mode), heads);
    std::printf("attention plan, mesh %d, %d hops, %s tiles: %lld bytes, estimated %lld\n",
                mesh_size, k_hop, cuda::attention_tiles_name(mode), static_cast<long long>(bytes),
                static_cast<long long>(estimate));
    if (!print_only) CHECK(bytes <= estimate);
  }
}

}  // namespace

// Host code, no GPU needed: the estimate bounds the real tile layouts.
TEST_CASE("memory plan: the attention plan estimate bounds the CUDA tile layouts", "[memory]") {
  check_attention_estimate(3, 4, 4, false);    // the tiny model
  check_attention_estimate(5, 16, 4, false);  // the 1° models' mesh
}

TEST_CASE("memory plan: attention plan at mesh 6", "[.][memory_0p25]") {
  check_attention_estimate(6, 16, 4, true);
}
#endif  // GENCAST_WITH_CUDA

// Run by hand: the same comparison with the official 0.25° model on its
// grid (builds the 0.25° graph: tens of seconds).
TEST_CASE("memory plan: estimate against the built 0.25 degree graph", "[.][memory_0p25]") {
  const ModelConfig config = official_model_config("0p25deg");
  std::vector<float> lat, lon;
  for (int i = 0; i < 721; ++i) lat.push_back(static_cast<float>(-90.0 + 0.25 * i));
  for (int i = 0; i < 1440; ++i) lon.push_back(static_cast<float>(0.25 * i));
  const DenoiserGraph graph = build_denoiser_graph(lat, lon, graph_options(config, "0p25deg"));
  const GridInputRows rows = grid_input_rows(grid_feature_layout(config.task));
  DenoiserOptions options;
  options.cache_edge_embeddings = true;
  const DenoiserSizes real = denoiser_sizes(graph, rows, options);
  const DenoiserSizes est = estimate_denoiser_sizes(config, 721, 1440, options);
  std::printf("0.25°: grid2mesh edges %lld (estimated %lld), attention pairs %lld (%lld), "
              "scratch rows %lld (%lld), grid2mesh pieces %lld (%lld), partial rows %lld (%lld)\n",
              static_cast<long long>(real.grid2mesh_edges),
              static_cast<long long>(est.grid2mesh_edges),
              static_cast<long long>(real.attention_nnz), static_cast<long long>(est.attention_nnz),
              static_cast<long long>(real.scratch_rows), static_cast<long long>(est.scratch_rows),
              static_cast<long long>(real.grid2mesh_pieces),
              static_cast<long long>(est.grid2mesh_pieces),
              static_cast<long long>(real.partial_rows), static_cast<long long>(est.partial_rows));
  for (const Precision p : {Precision::fp32, Precision::bf16}) {
    const DType dtype = precision_info(p).activations;
    const DenoiserMemory want = denoiser_memory(config, real, options, dtype);
    const DenoiserMemory got = denoiser_memory(config, est, options, dtype);
    const MemoryEstimate e = estimate_forecast_memory(config, 721, 1440, p, kDefaultChunkRows);
    std::printf("%s: denoiser from the built graph %.3f GB (weights %.3f, graph %.3f, "
                "activations %.3f, edge cache %.3f), from estimated sizes %.3f GB (%+.2f%%); "
                "forecast estimate %.3f GB (graph %.3f, activations %.3f, sampler %.3f, "
                "workspace %.3f) + edge cache %.3f GB\n",
                precision_name(p), static_cast<double>(want.total()) / 1e9,
                static_cast<double>(want.weights) / 1e9, static_cast<double>(want.graph) / 1e9,
                static_cast<double>(want.activations) / 1e9,
                static_cast<double>(want.edge_cache) / 1e9, static_cast<double>(got.total()) / 1e9,
                100.0 * (ratio(got.total(), want.total()) - 1.0),
                static_cast<double>(e.total()) / 1e9, static_cast<double>(e.graph) / 1e9,
                static_cast<double>(e.activations) / 1e9, static_cast<double>(e.sampler) / 1e9,
                static_cast<double>(e.workspace) / 1e9, static_cast<double>(e.edge_cache) / 1e9);
  }
}
