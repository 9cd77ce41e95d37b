// The denoiser's noise-level cache (DenoiserOptions::sigma_cache_entries):
// a call at a level seen before takes its conditioning from the device
// copy instead of recomputing it on the host. Checked on the CPU backend
// with the tiny fixture model: a sequence of calls that revisits levels
// gives bit-for-bit the outputs of a denoiser without the cache, with and
// without the edge cache (whose folded first layers are cached too), and
// the cache holds at most its entries (later levels are recomputed).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "backend/backend.h"
#include "devices/device_factory.h"
#include "model/denoiser.h"
#include "model/denoiser_memory.h"
#include "runtime/model_setup.h"
#include "test_cuda_util.h"
#include "test_tiny_model.h"

using namespace gencast;
using gencast::testing::random_normal;

TEST_CASE("denoiser: the noise-level cache gives the uncached outputs bit for bit",
          "[denoiser][sigma_cache]") {
  const PreparedModel& model = gencast::testing::tiny_model();
  const GridInputRows rows = grid_input_rows(model.layout);
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  // Levels revisited out of order, as a sampler's steps do.
  const std::vector<float> sigmas{2.5f, 0.7f, 2.5f, 80.f, 0.7f, 2.5f};

  struct Outcome {
    std::vector<std::vector<float>> outputs;
    int64_t hits = 0, levels = 0;
  };
  const auto run = [&](bool edge_cache, int64_t entries) {
    DenoiserOptions options;
    options.attention = model.attention.kind;
    options.cache_edge_embeddings = edge_cache;
    options.sigma_cache_entries = entries;
    Denoiser d(b, model.checkpoint.config, model.checkpoint.params, model.graph, rows, options);
    d.set_conditioning(random_normal({d.n_grid(), d.n_conditioning()}, 21));
    const Tensor x = b.from_host(random_normal({d.n_grid(), d.n_targets()}, 22), DType::f32);
    Tensor out = b.empty({d.n_grid(), d.n_targets()}, DType::f32);
    Outcome o;
    for (float sigma : sigmas) {
      d.denoise(sigma, x, out);
      o.outputs.push_back(b.to_host(out).data);
    }
    o.hits = d.sigma_cache_hits();
    o.levels = d.sigma_cache_levels();
    return o;
  };

  for (bool edge_cache : {false, true}) {
    INFO("edge cache " << edge_cache);
    const Outcome plain = run(edge_cache, 0);
    CHECK(plain.hits == 0);
    CHECK(plain.levels == 0);
    // Consecutive outputs differ: a stale conditioning would show.
    for (size_t i = 1; i < sigmas.size(); ++i) REQUIRE(plain.outputs[i] != plain.outputs[i - 1]);

    const Outcome cached = run(edge_cache, kSigmaCacheEntries);
    CHECK(cached.levels == 3);  // 2.5, 0.7, 80
    CHECK(cached.hits == 3);    // 2.5 twice more, 0.7 once more
    const Outcome one = run(edge_cache, 1);
    CHECK(one.levels == 1);  // only the first level (2.5) is kept
    CHECK(one.hits == 2);
    for (size_t i = 0; i < sigmas.size(); ++i) {
      INFO("call " << i << ", sigma " << sigmas[i]);
      CHECK(cached.outputs[i] == plain.outputs[i]);
      CHECK(one.outputs[i] == plain.outputs[i]);
    }
  }
}

TEST_CASE("denoiser: the compact (f16) edge cache stays within half rounding of the f32 one",
          "[denoiser][edge_cache]") {
  // The tf32 precision keeps the cached edge latents in IEEE half
  // (PrecisionInfo::edge_cache). On the CPU, in float32 otherwise, the
  // only difference is that rounding of each latent (2^-11 relative), so the
  // output moves by about that much, not more, and the cache takes half the
  // memory, as denoiser_memory() says.
  const PreparedModel& model = gencast::testing::tiny_model();
  const GridInputRows rows = grid_input_rows(model.layout);
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  DenoiserSizes sizes;
  const auto run = [&](DType storage, int64_t* cache_bytes) {
    DenoiserOptions options;
    options.attention = model.attention.kind;
    options.cache_edge_embeddings = true;
    options.edge_cache_f32_storage = storage;
    Denoiser d(b, model.checkpoint.config, model.checkpoint.params, model.graph, rows, options);
    sizes = d.sizes();
    *cache_bytes = denoiser_memory(model.checkpoint.config, sizes, options, DType::f32).edge_cache;
    d.set_conditioning(random_normal({d.n_grid(), d.n_conditioning()}, 31));
    const Tensor x = b.from_host(random_normal({d.n_grid(), d.n_targets()}, 32), DType::f32);
    Tensor out = b.empty({d.n_grid(), d.n_targets()}, DType::f32);
    d.denoise(1.3f, x, out);
    return b.to_host(out).data;
  };
  int64_t full_bytes = 0, compact_bytes = 0;
  const std::vector<float> full = run(DType::f32, &full_bytes);
  const std::vector<float> compact = run(DType::f16, &compact_bytes);
  REQUIRE(full.size() == compact.size());
  const double rel = gencast::test::relative_l2(compact, full);  // +inf if either holds NaN/Inf
  INFO("relative L2 of the compact cache's output: " << rel);
  REQUIRE(std::isfinite(rel));
  CHECK(rel > 0);     // the compact path ran: its rounding shows
  CHECK(rel < 1e-3);  // the tf32 budget (measured: 2.4e-5)
  // The latents shrink from 4 to 2 bytes; the folded layers stay float32 and
  // gain an f16 copy each (for backends whose linear takes f16 operands).
  const int64_t L = model.checkpoint.config.denoiser.latent_size;
  const int64_t latents = (sizes.grid2mesh_edges + sizes.mesh2grid_edges) * L;
  CHECK(full_bytes - compact_bytes == 2 * latents - 2 * (L * L * 2));
}
