// Tiles of whole segments for the fused edge MLP (backend/edge_tiles.h): the
// plan's invariants on random degrees, greedy packing, the too-heavy case
// and malformed input; the denoiser's tile plan and its CPU fallback.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "backend/edge_tiles.h"
#include "devices/device_factory.h"
#include "model/denoiser.h"
#include "runtime/memory_plan.h"
#include "runtime/model_setup.h"
#include "test_tiny_model.h"

using namespace gencast;

namespace {

std::vector<int32_t> offsets_from(const std::vector<int32_t>& degrees, int32_t base) {
  std::vector<int32_t> offsets{base};
  for (int32_t d : degrees) offsets.push_back(offsets.back() + d);
  return offsets;
}

// Checks the header's invariants of `tiles` for `offsets` and `max_rows`.
void check_plan(const std::vector<int32_t>& offsets, const std::vector<int32_t>& tiles,
                int64_t max_rows) {
  const auto segments = static_cast<int32_t>(offsets.size()) - 1;
  REQUIRE(!tiles.empty());
  REQUIRE(tiles.front() == 0);
  REQUIRE(tiles.back() == segments);
  for (size_t i = 0; i + 1 < tiles.size(); ++i) {
    INFO("tile " << i);
    REQUIRE(tiles[i] < tiles[i + 1]);
    const int64_t rows = offsets[static_cast<size_t>(tiles[i + 1])] - offsets[static_cast<size_t>(tiles[i])];
    CHECK(rows <= max_rows);
    CHECK(tiles[i + 1] - tiles[i] <= max_rows);
    // Greedy: the next tile's first segment did not fit into this one.
    if (i + 2 < tiles.size()) {
      const int64_t grown = offsets[static_cast<size_t>(tiles[i + 1]) + 1] -
                            offsets[static_cast<size_t>(tiles[i])];
      CHECK((grown > max_rows || tiles[i + 1] + 1 - tiles[i] > max_rows));
    }
  }
}

}  // namespace

TEST_CASE("edge tiles: whole segments of at most max_rows edges, packed greedily", "[edge_tiles]") {
  std::mt19937 rng(77);
  for (int64_t max_rows : {1, 3, 64})
    for (int32_t base : {0, 999})
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<int32_t> degrees(static_cast<size_t>(1 + rng() % 300));
        for (auto& d : degrees) d = rng() % 5 == 0 ? 0 : static_cast<int32_t>(rng() % (max_rows + 1));
        const std::vector<int32_t> offsets = offsets_from(degrees, base);
        INFO("max_rows " << max_rows << ", base " << base << ", trial " << trial);
        const auto tiles = plan_edge_tiles(offsets, max_rows);
        REQUIRE(tiles.has_value());
        check_plan(offsets, *tiles, max_rows);
      }
  // The 0.25° mesh2grid shape: 3 edges per grid node, 21 receivers (63 edges) a tile.
  const auto m2g = plan_edge_tiles(offsets_from(std::vector<int32_t>(100, 3), 0), 64);
  REQUIRE(m2g.has_value());
  CHECK(*m2g == std::vector<int32_t>{0, 21, 42, 63, 84, 100});
  // Empty segments ride along, at most max_rows segments a tile; no
  // segments: the single boundary.
  CHECK(*plan_edge_tiles(offsets_from({0, 0, 5, 0}, 3), 64) == std::vector<int32_t>{0, 4});
  CHECK(*plan_edge_tiles(offsets_from(std::vector<int32_t>(150, 0), 3), 64) ==
        std::vector<int32_t>{0, 64, 128, 150});
  CHECK(*plan_edge_tiles(std::vector<int32_t>{7}, 64) == std::vector<int32_t>{0});
}

TEST_CASE("edge tiles: a segment above max_rows cannot be tiled; bad input throws", "[edge_tiles]") {
  CHECK_FALSE(plan_edge_tiles(offsets_from({3, 65, 2}, 0), 64).has_value());
  CHECK(plan_edge_tiles(offsets_from({3, 64, 2}, 0), 64).has_value());
  CHECK_THROWS_AS(plan_edge_tiles(std::vector<int32_t>{0, 5, 4}, 64), std::invalid_argument);
  CHECK_THROWS_AS(plan_edge_tiles(std::vector<int32_t>{}, 64), std::invalid_argument);
  CHECK_THROWS_AS(plan_edge_tiles(std::vector<int32_t>{0, 1}, 0), std::invalid_argument);
}

TEST_CASE("edge tiles: the tiny denoiser plans, allocates and falls back on the CPU",
          "[edge_tiles][denoiser]") {
  // With the fused edge MLP on, the denoiser plans tiles for every chunk
  // (split ones over their pieces), allocates exactly what denoiser_memory()
  // describes (the constructor checks it) within the memory plan's estimate,
  // and on the CPU, which has no fused kernel, computes exactly what it
  // computes with the option off.
  const PreparedModel& model = gencast::testing::tiny_model();
  const GridInputRows rows = grid_input_rows(model.layout);
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  for (const auto& [chunk_rows, split] : {std::pair<int64_t, int64_t>{kDefaultChunkRows, 64},
                                          {1000, 2}}) {
    INFO("chunk rows " << chunk_rows << ", split " << split);
    const auto run = [&](bool fused) {
      DenoiserOptions options;
      options.cache_edge_embeddings = true;
      options.fused_edges = fused;
      options.chunk_rows = chunk_rows;
      options.segment_split_edges = split;
      options.attention = model.attention.kind;
      auto d = std::make_unique<Denoiser>(b, model.checkpoint.config, model.checkpoint.params,
                                          model.graph, rows, options);
      d->set_conditioning(gencast::testing::random_normal({d->n_grid(), d->n_conditioning()}, 51));
      const Tensor x =
          b.from_host(gencast::testing::random_normal({d->n_grid(), d->n_targets()}, 52), DType::f32);
      Tensor out = b.empty({d->n_grid(), d->n_targets()}, DType::f32);
      d->denoise(0.9f, x, out);
      if (fused) {
        CHECK(d->g2m_tiled_chunks() > 0);
        CHECK(d->m2g_tiled_chunks() > 0);
        CHECK(d->fused_edge_chunks() == 0);  // the CPU backend declines
        CHECK(d->sizes().grid2mesh_tile_entries > 0);
        CHECK(d->sizes().mesh2grid_tile_entries > 0);
        const DenoiserSizes est = estimate_denoiser_sizes(model.checkpoint.config, 46, 90, options);
        CHECK(est.grid2mesh_tile_entries >= d->sizes().grid2mesh_tile_entries);
        CHECK(est.mesh2grid_tile_entries >= d->sizes().mesh2grid_tile_entries);
      } else {
        CHECK(d->sizes().grid2mesh_tile_entries == 0);
      }
      return b.to_host(out);
    };
    const ArrayF off = run(false);
    const ArrayF on = run(true);
    REQUIRE(on.data.size() == off.data.size());
    CHECK(on.data == off.data);
  }
}
