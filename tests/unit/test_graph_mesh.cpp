// The icosahedral mesh, its banded (RCM) order and the k-hop attention mask
// against the reference: graph_tiny.npz (banded mesh 3), graph_perms.npz
// (scipy's RCM for mesh 3..6) and graph_facts.json (counts for mesh 3..6).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "graph/attention_neighbourhood.h"
#include "graph/icosahedral_mesh.h"
#include "graph/mesh_order.h"
#include "io/npz.h"

using namespace gencast;

namespace {

std::string fixture(const std::string& name) {
  return std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/" + name;
}

// Reference facts transcribed from tests/data/gencast_tiny/graph_facts.json,
// key "mesh" -> "mesh<N>" (computed by the reference code, not by us).
struct MeshFacts {
  int mesh_size;
  int64_t nodes, faces, directed_edges;
  double max_edge_chord;          // "max_edge_chord"
  double radius;                  // "grid2mesh_query_radius"
  int k_hop;                      // "attention_k_hop"
  int64_t adjacency_nnz_with_self_edges;
  int64_t k_hop_mask_nnz;
  int64_t mask_block_size, num_padding_nodes, num_blocks;
};
const MeshFacts kMeshFacts[] = {
    {3, 642, 1280, 3840, 0.1646471917629242, 0.09878831505775451, 4, 4482, 38142, 165, 18, 4},
    {4, 2562, 5120, 15360, 0.08260400593280792, 0.049562403559684755, 16, 17922, 1907922, 1297,
     32, 2},
    {5, 10242, 20480, 61440, 0.04133729636669159, 0.024802377820014952, 16, 71682, 8182482,
     2577, 66, 4},
    {6, 40962, 81920, 245760, 0.02067309059202671, 0.012403854355216026, 16, 286722, 33280722,
     5137, 134, 8},
};

}  // namespace

TEST_CASE("mesh 3 vertices and faces equal the reference's banded mesh bit for bit", "[graph]") {
  NpzReader npz(fixture("graph_tiny.npz"));
  const ArrayF ref_vertices = npz.read_f32("mesh_vertices_banded");
  const Array<int32_t> ref_faces = npz.read_i32("mesh_faces_banded");
  const TriMesh flat = icosahedral_mesh(3);
  const TriMesh mesh = permute_mesh(flat, reverse_cuthill_mckee(flat));
  REQUIRE(ref_vertices.shape == Shape{642, 3});
  REQUIRE(mesh.vertices.size() == 642);
  int64_t differing = 0;
  for (size_t i = 0; i < mesh.vertices.size(); ++i) {
    for (int k = 0; k < 3; ++k) {
      // Exact: we reproduce the reference's float32 arithmetic step by step.
      if (mesh.vertices[i][k] != ref_vertices.data[3 * i + k]) ++differing;
    }
  }
  CHECK(differing == 0);
  REQUIRE(ref_faces.shape == Shape{1280, 3});
  int64_t face_mismatch = 0;
  for (size_t f = 0; f < mesh.faces.size(); ++f) {
    for (int k = 0; k < 3; ++k) face_mismatch += mesh.faces[f][k] != ref_faces.data[3 * f + k];
  }
  CHECK(face_mismatch == 0);
}

TEST_CASE("reverse Cuthill-McKee equals scipy's permutation for mesh sizes 3 to 6", "[graph]") {
  NpzReader npz(fixture("graph_perms.npz"));
  for (int size = 3; size <= 6; ++size) {
    INFO("mesh size " << size);
    const Array<int32_t> ref = npz.read_i32("perm_mesh" + std::to_string(size));
    const std::vector<int32_t> ours = reverse_cuthill_mckee(icosahedral_mesh(size));
    REQUIRE(static_cast<int64_t>(ours.size()) == ref.numel());
    int64_t first_difference = -1;
    for (size_t i = 0; i < ours.size(); ++i) {
      if (ours[i] != ref.data[i]) {
        first_difference = static_cast<int64_t>(i);
        break;
      }
    }
    CHECK(first_difference == -1);
  }
}

TEST_CASE("mesh counts, longest edge and query radius match graph_facts.json", "[graph]") {
  for (const MeshFacts& f : kMeshFacts) {
    INFO("mesh size " << f.mesh_size);
    const TriMesh mesh = icosahedral_mesh(f.mesh_size);
    CHECK(static_cast<int64_t>(mesh.vertices.size()) == f.nodes);
    CHECK(static_cast<int64_t>(mesh.faces.size()) == f.faces);
    CHECK(static_cast<int64_t>(mesh_edges(mesh.faces).senders.size()) == f.directed_edges);
    const double chord = static_cast<double>(max_edge_chord(mesh));
    // The reference value is a float32 printed as double; 1e-6 (absolute,
    // ~0.005 % of the chord) is the brief's bound, and we expect equality.
    CHECK(std::abs(chord - f.max_edge_chord) <= 1e-6);
    CHECK(chord == f.max_edge_chord);
    // Radius = 0.6 x chord in double, as in the facts file.
    CHECK(std::abs(0.6 * chord - f.radius) <= 1e-15);
  }
}

TEST_CASE("mesh adjacency is symmetric with degree 5 at the 12 icosahedron vertices", "[graph]") {
  const TriMesh mesh = icosahedral_mesh(4);
  const Adjacency adj = mesh_adjacency(mesh);
  int64_t degree5 = 0;
  for (int64_t i = 0; i < adj.nodes(); ++i) {
    const int64_t degree = adj.offsets[i + 1] - adj.offsets[i];
    CHECK((degree == 5 || degree == 6));
    degree5 += degree == 5;
    for (int64_t e = adj.offsets[i]; e < adj.offsets[i + 1]; ++e) {
      const int32_t j = adj.neighbours[e];
      const auto begin = adj.neighbours.begin() + adj.offsets[j];
      const auto end = adj.neighbours.begin() + adj.offsets[j + 1];
      CHECK(std::find(begin, end, static_cast<int32_t>(i)) != end);
    }
  }
  CHECK(degree5 == 12);
}

TEST_CASE("k-hop masks of mesh 3, 4 and 5 match graph_facts.json", "[graph]") {
  // Mesh 6 (k = 16, 33 M entries) is checked on the cached 0.25-degree graph
  // in test_graph_grids.cpp.
  for (const MeshFacts& f : kMeshFacts) {
    if (f.mesh_size == 6) continue;
    INFO("mesh size " << f.mesh_size);
    const TriMesh mesh = icosahedral_mesh(f.mesh_size);
    const TriMesh banded = permute_mesh(mesh, reverse_cuthill_mckee(mesh));
    const Adjacency adj = mesh_adjacency(banded);
    const Csr one_hop = k_hop_neighbourhood(adj, 1);
    CHECK(one_hop.nnz() == f.adjacency_nnz_with_self_edges);
    const Csr mask = k_hop_neighbourhood(adj, f.k_hop);
    CHECK(mask.nnz() == f.k_hop_mask_nnz);
    const TriBlockLayout layout = tri_block_layout(mask);
    CHECK(layout.block_size == f.mask_block_size);
    CHECK(layout.padding_nodes == f.num_padding_nodes);
    CHECK(layout.num_blocks == f.num_blocks);
  }
}

TEST_CASE("k-hop neighbourhoods are sorted, contain self and grow by one ring per hop",
          "[graph]") {
  const TriMesh mesh = icosahedral_mesh(2);
  const Adjacency adj = mesh_adjacency(mesh);
  const Csr zero = k_hop_neighbourhood(adj, 0);
  CHECK(zero.nnz() == adj.nodes());
  const Csr one = k_hop_neighbourhood(adj, 1);
  const Csr two = k_hop_neighbourhood(adj, 2);
  for (int64_t i = 0; i < adj.nodes(); ++i) {
    const int64_t degree = adj.offsets[i + 1] - adj.offsets[i];
    CHECK(one.offsets[i + 1] - one.offsets[i] == degree + 1);
    const auto row_begin = two.indices.begin() + two.offsets[i];
    const auto row_end = two.indices.begin() + two.offsets[i + 1];
    CHECK(std::is_sorted(row_begin, row_end));
    CHECK(std::adjacent_find(row_begin, row_end) == row_end);
    CHECK(std::binary_search(row_begin, row_end, static_cast<int32_t>(i)));
    // Every 2-hop member is a neighbour of some 1-hop member (or of i).
    for (auto it = row_begin; it != row_end; ++it) {
      bool reachable = false;
      for (int64_t e = one.offsets[i]; e < one.offsets[i + 1] && !reachable; ++e) {
        const int32_t mid = one.indices[e];
        const auto b = one.indices.begin() + one.offsets[mid];
        const auto en = one.indices.begin() + one.offsets[mid + 1];
        reachable = std::binary_search(b, en, *it);
      }
      CHECK(reachable);
    }
  }
}

TEST_CASE("banded block size is the largest |i - j| + 1", "[graph]") {
  Csr m;
  m.offsets = {0, 2, 3, 5};
  m.indices = {0, 2, 1, 0, 2};  // (2,0) and (0,2): |i-j| = 2
  CHECK(banded_block_size(m) == 3);
  const TriBlockLayout t = tri_block_layout(m);
  CHECK(t.num_blocks == 1);
  CHECK(t.padding_nodes == 0);
  Csr diag;
  diag.offsets = {0, 1, 2, 3, 4, 5};
  diag.indices = {0, 1, 2, 3, 4};
  const TriBlockLayout d = tri_block_layout(diag);
  CHECK(d.block_size == 1);
  CHECK(d.num_blocks == 5);
}
