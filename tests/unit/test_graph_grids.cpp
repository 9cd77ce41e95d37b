// The real model grids: 1.0 deg (181 x 360) and 0.25 deg (721 x 1440) with
// mesh sizes 4, 5, 6, against graph_facts.json (reference edge counts) and
// graph_edges_1p0_mesh5.npz (the reference's 1.0-degree mesh-5 edge lists).
// The 0.25-degree / mesh-6 graph is the full production build (k-hop 16);
// it is built once per test run and also reports the build time.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>

#include "graph/attention_neighbourhood.h"
#include "graph/denoiser_graph.h"
#include "graph/grid_mesh_edges.h"
#include "graph/mesh_order.h"
#include "io/npz.h"

using namespace gencast;

namespace {

std::vector<float> axis(double start, double step, int n) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<float>(start + step * i));
  return v;
}

// Grid facts transcribed from tests/data/gencast_tiny/graph_facts.json, key
// "grid" -> "<res>_mesh<N>" (reference results, not ours).
struct GridFacts {
  double res;
  int mesh_size;
  int n_lat, n_lon;
  int64_t grid2mesh_edges;
  int64_t per_mesh_node_min, per_mesh_node_max;  // grid2mesh_edges_per_mesh_node_{min,max}
  int64_t mesh2grid_edges;
};
const GridFacts kGridFacts[] = {
    {1.0, 4, 181, 360, 102486, 23, 937, 195480},
    {1.0, 5, 181, 360, 101892, 4, 594, 195480},
    {1.0, 6, 181, 360, 102792, 1, 451, 195480},
    {0.25, 4, 721, 1440, 1618257, 400, 11986, 3114720},
    {0.25, 5, 721, 1440, 1618001, 99, 6479, 3114720},
    {0.25, 6, 721, 1440, 1618818, 23, 3753, 3114720},
};

// The grid <-> mesh edges alone (no features, no attention), banded order.
struct GridMeshEdges {
  EdgeSet grid2mesh;
  Mesh2GridEdges mesh2grid;
};

GridMeshEdges edges_only(const GridFacts& f) {
  const auto lat = axis(-90.0, f.res, f.n_lat), lon = axis(0.0, f.res, f.n_lon);
  const MeshHierarchy h = icosahedral_mesh_hierarchy(f.mesh_size);
  const TriMesh flat{h.vertices, h.faces.back()};
  const auto order = reverse_cuthill_mckee(flat);
  const TriMesh banded = permute_mesh(flat, order);
  std::vector<int32_t> new_index(order.size());
  for (size_t i = 0; i < order.size(); ++i) new_index[order[i]] = static_cast<int32_t>(i);
  const double radius = 0.6 * static_cast<double>(max_edge_chord(flat));
  const auto pos = grid_positions(lat, lon);
  return {grid2mesh_radius_edges(lat, lon, pos, banded.vertices, radius),
          mesh2grid_triangle_edges(pos, h, new_index)};
}

const DenoiserGraph& quarter_degree_mesh6() {
  static const DenoiserGraph g = [] {
    GraphBuildOptions o;
    o.mesh_size = 6;
    o.attention_k_hop = 16;
    return build_denoiser_graph(axis(-90.0, 0.25, 721), axis(0.0, 0.25, 1440), o);
  }();
  return g;
}

void check_grid_facts(const GridFacts& f, const EdgeSet& g2m, const EdgeSet& m2g) {
  INFO("grid " << f.res << " deg, mesh " << f.mesh_size);
  CHECK(g2m.size() == f.grid2mesh_edges);
  CHECK(m2g.size() == f.mesh2grid_edges);
  int64_t lo = INT64_MAX, hi = 0;
  for (size_t m = 0; m + 1 < g2m.receiver_offsets.size(); ++m) {
    const int64_t count = g2m.receiver_offsets[m + 1] - g2m.receiver_offsets[m];
    lo = std::min(lo, count);
    hi = std::max(hi, count);
  }
  CHECK(lo == f.per_mesh_node_min);
  CHECK(hi == f.per_mesh_node_max);
  // graph_facts.json: grid_nodes_without_grid2mesh_edge = 0 for every grid.
  std::vector<char> has_edge(static_cast<size_t>(f.n_lat) * f.n_lon, 0);
  for (int32_t s : g2m.senders) has_edge[s] = 1;
  CHECK(std::count(has_edge.begin(), has_edge.end(), 0) == 0);
}

std::vector<int64_t> sorted_pairs(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int64_t> keys(a.size());
  for (size_t e = 0; e < a.size(); ++e) keys[e] = (int64_t(a[e]) << 32) | uint32_t(b[e]);
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace

TEST_CASE("1-degree grid edge counts match graph_facts.json for mesh 4, 5, 6", "[graph]") {
  for (const GridFacts& f : kGridFacts) {
    if (f.res != 1.0) continue;
    const GridMeshEdges e = edges_only(f);
    check_grid_facts(f, e.grid2mesh, e.mesh2grid.edges);
  }
}

TEST_CASE("0.25-degree grid edge counts match graph_facts.json for mesh 4 and 5", "[graph]") {
  for (const GridFacts& f : kGridFacts) {
    if (f.res != 0.25 || f.mesh_size == 6) continue;
    const GridMeshEdges e = edges_only(f);
    check_grid_facts(f, e.grid2mesh, e.mesh2grid.edges);
  }
}

TEST_CASE("0.25-degree mesh-6 production graph matches graph_facts.json", "[graph]") {
  const DenoiserGraph& g = quarter_degree_mesh6();
  check_grid_facts(kGridFacts[5], g.grid2mesh, g.mesh2grid);
  // graph_facts.json "mesh6": k-hop 16 mask, in the banded order.
  CHECK(g.n_mesh == 40962);
  CHECK(g.n_mesh_edges == 245760);
  CHECK(g.attention.nnz() == 33280722);
  const TriBlockLayout layout = tri_block_layout(g.attention);
  CHECK(layout.block_size == 5137);
  CHECK(layout.padding_nodes == 134);
  CHECK(layout.num_blocks == 8);
  CHECK(g.grid2mesh.features.shape == Shape{g.grid2mesh.size(), 4});
  CHECK(g.mesh2grid.features.shape == Shape{g.mesh2grid.size(), 4});
  const auto& t = g.timings;
  WARN("0.25 deg / mesh 6 graph build: total " << t.total << " s (mesh " << t.mesh << ", order "
       << t.order << ", grid2mesh " << t.grid2mesh << ", mesh2grid " << t.mesh2grid
       << ", features " << t.features << ", attention " << t.attention << "); "
       << g.mesh2grid_ties << " mesh2grid ties");
}

TEST_CASE("1-degree mesh-5 edges equal the reference's edge lists", "[graph]") {
  NpzReader npz(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/graph_edges_1p0_mesh5.npz");
  GraphBuildOptions o;
  o.mesh_size = 5;
  o.attention_k_hop = 1;  // the attention mask is not under test here
  const DenoiserGraph g = build_denoiser_graph(axis(-90.0, 1.0, 181), axis(0.0, 1.0, 360), o);

  // grid2mesh: (grid idx, mesh idx) pairs as sets.
  CHECK(sorted_pairs(g.grid2mesh.senders, g.grid2mesh.receivers) ==
        sorted_pairs(npz.read_i32("grid2mesh_grid_idx").data,
                     npz.read_i32("grid2mesh_mesh_idx").data));
  // mesh edges: (sender, receiver) as sets.
  CHECK(sorted_pairs(g.mesh_edges.senders, g.mesh_edges.receivers) ==
        sorted_pairs(npz.read_i32("mesh_senders").data, npz.read_i32("mesh_receivers").data));

  // mesh2grid: same triangle (vertices in face order) except at ties, where
  // the reference's triangle must share an edge with ours.
  const auto ref_mesh = npz.read_i32("mesh2grid_mesh_idx").data;
  const auto ref_grid = npz.read_i32("mesh2grid_grid_idx").data;
  REQUIRE(static_cast<int64_t>(ref_grid.size()) == 3 * g.n_grid);
  int64_t differing = 0, differing_off_ties = 0, not_adjacent = 0;
  for (int64_t node = 0; node < g.n_grid; ++node) {
    for (int k = 0; k < 3; ++k) REQUIRE(ref_grid[3 * node + k] == node);
    std::array<int32_t, 3> ours_tri{}, ref_tri{};
    for (int k = 0; k < 3; ++k) {
      ours_tri[k] = g.mesh2grid.senders[3 * node + k];
      ref_tri[k] = ref_mesh[3 * node + k];
    }
    if (ours_tri == ref_tri) continue;
    ++differing;
    if (!std::binary_search(g.mesh2grid_tie_nodes.begin(), g.mesh2grid_tie_nodes.end(),
                            static_cast<int32_t>(node))) {
      ++differing_off_ties;
    }
    int shared = 0;
    for (int32_t v : ref_tri) shared += std::count(ours_tri.begin(), ours_tri.end(), v) > 0;
    not_adjacent += shared < 2;
  }
  CHECK(differing_off_ties == 0);
  CHECK(not_adjacent == 0);
  WARN("1 deg mesh 5 mesh2grid: " << differing << " of " << g.n_grid
                                  << " grid nodes differ from the reference, all at ties ("
                                  << g.mesh2grid_ties << " ties)");
}
