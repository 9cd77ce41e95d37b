// The batched graph: B disjoint copies with offset indices, and a denoiser
// on it computing for B stacked members what B single calls compute.
#include <catch2/catch.hpp>

#include <random>

#include "graph/batch_graph.h"
#include "graph/denoiser_graph.h"

using namespace gencast;

namespace {

DenoiserGraph small_graph() {
  std::vector<float> lat, lon;
  for (int i = 0; i < 19; ++i) lat.push_back(-90.f + 10.f * static_cast<float>(i));
  for (int i = 0; i < 36; ++i) lon.push_back(10.f * static_cast<float>(i));
  GraphBuildOptions o;
  o.mesh_size = 2;
  o.attention_k_hop = 2;
  return build_denoiser_graph(lat, lon, o);
}

void check_copy(const EdgeSet& one, const EdgeSet& all, int64_t b, int64_t n_send, int64_t n_recv) {
  const int64_t E = one.size();
  const auto R = static_cast<int64_t>(one.receiver_offsets.size()) - 1;
  for (int64_t i = 0; i < E; ++i) {
    CHECK(all.senders[static_cast<size_t>(b * E + i)] == one.senders[static_cast<size_t>(i)] + b * n_send);
    CHECK(all.receivers[static_cast<size_t>(b * E + i)] == one.receivers[static_cast<size_t>(i)] + b * n_recv);
    for (int64_t c = 0; c < 4; ++c)
      CHECK(all.features.data[static_cast<size_t>((b * E + i) * 4 + c)] ==
            one.features.data[static_cast<size_t>(i * 4 + c)]);
  }
  for (int64_t r = 0; r <= R; ++r)
    CHECK(all.receiver_offsets[static_cast<size_t>(b * R + r)] ==
          one.receiver_offsets[static_cast<size_t>(r)] + b * E);
}

}  // namespace

TEST_CASE("replicate_graph: copies are disjoint, offset and complete", "[graph][batch]") {
  const DenoiserGraph g = small_graph();
  const int64_t B = 3;
  const DenoiserGraph u = replicate_graph(g, B);
  CHECK(u.n_grid == B * g.n_grid);
  CHECK(u.n_mesh == B * g.n_mesh);
  CHECK(u.grid_node_features.shape[0] == B * g.n_grid);
  CHECK(u.grid2mesh.size() == B * g.grid2mesh.size());
  CHECK(u.attention.nnz() == B * g.attention.nnz());
  for (int64_t b = 0; b < B; ++b) {
    check_copy(g.grid2mesh, u.grid2mesh, b, g.n_grid, g.n_mesh);
    check_copy(g.mesh2grid, u.mesh2grid, b, g.n_mesh, g.n_grid);
    check_copy(g.mesh_edges, u.mesh_edges, b, g.n_mesh, g.n_mesh);
    // Attention rows of copy b hold only copy b's nodes, shifted.
    for (int64_t r = 0; r < g.attention.rows(); ++r) {
      const int64_t ur = b * g.n_mesh + r;
      REQUIRE(u.attention.offsets[static_cast<size_t>(ur + 1)] - u.attention.offsets[static_cast<size_t>(ur)] ==
              g.attention.offsets[static_cast<size_t>(r + 1)] - g.attention.offsets[static_cast<size_t>(r)]);
      for (int64_t k = 0; k < g.attention.offsets[static_cast<size_t>(r + 1)] - g.attention.offsets[static_cast<size_t>(r)]; ++k)
        CHECK(u.attention.indices[static_cast<size_t>(u.attention.offsets[static_cast<size_t>(ur)] + k)] ==
              g.attention.indices[static_cast<size_t>(g.attention.offsets[static_cast<size_t>(r)] + k)] + b * g.n_mesh);
    }
  }
  CHECK_THROWS_AS(replicate_graph(g, 0), std::invalid_argument);
  const DenoiserGraph same = replicate_graph(g, 1);
  CHECK(same.grid2mesh.senders == g.grid2mesh.senders);
}
