// The refined icosahedral mesh on the unit sphere, as the reference builds it.
//
// A regular icosahedron (the reference's 12 vertices and 20 counter-clockwise
// faces, rotated about y so that a face is parallel to the equator and no
// vertex sits on a pole) is split `splits` times: every face becomes 4, the new
// vertices are the float32 edge midpoints pushed back onto the sphere.
//
// Invariants: vertex indices and float32 coordinates equal the reference's
// unpermuted mesh (vertices of a coarser level are the first ones of the next
// level); faces are counter-clockwise seen from outside; the children of face
// f at one level are faces 4f..4f+3 at the next level.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace gencast {

struct TriMesh {
  std::vector<std::array<float, 3>> vertices;
  std::vector<std::array<int32_t, 3>> faces;
};

// All levels share the finest vertex array; level l uses its first
// 10 * 4^l + 2 vertices.
struct MeshHierarchy {
  std::vector<std::array<float, 3>> vertices;                 // finest level
  std::vector<std::vector<std::array<int32_t, 3>>> faces;     // [level][face]
};

MeshHierarchy icosahedral_mesh_hierarchy(int splits);
// The finest level only, in the reference's unpermuted order.
TriMesh icosahedral_mesh(int splits);

// Directed mesh edges: every face (a,b,c) gives a->b, b->c, c->a, listed as
// all first edges, then all second, then all third (the reference's order).
struct MeshEdges {
  std::vector<int32_t> senders, receivers;
};
MeshEdges mesh_edges(const std::vector<std::array<int32_t, 3>>& faces);

// Longest edge chord, computed like the reference (float32 differences and
// float32 row norms), returned as the exact float32 value.
float max_edge_chord(const TriMesh& mesh);

// New mesh with vertex i = old vertex order[i]; faces relabelled, face order
// kept. `order` must be a permutation of the vertex indices.
TriMesh permute_mesh(const TriMesh& mesh, const std::vector<int32_t>& order);

}  // namespace gencast
