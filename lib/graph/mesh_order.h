// The banded mesh node order: reverse Cuthill-McKee on the mesh adjacency.
//
// The model is the same function for any node order, but the reference
// permutes mesh nodes with scipy's reverse_cuthill_mckee, and using the same
// order (a) makes intermediate activations comparable with the fixtures and
// (b) keeps k-hop neighbourhoods near the diagonal, which is what block-sparse
// attention exploits.
//
// Invariants: the result is a permutation; order[i] = unpermuted index of the
// node placed at position i. For the icosahedral meshes it equals scipy's
// result (checked against graph_perms.npz for mesh sizes 3..6): same seed
// (lowest index among minimum-degree nodes, as a stable argsort picks it),
// neighbours visited in ascending index order and, per visited node, its newly
// reached neighbours stably sorted by degree.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/icosahedral_mesh.h"

namespace gencast {

// Symmetric adjacency in CSR form, neighbours sorted ascending, no self loops.
struct Adjacency {
  std::vector<int64_t> offsets;
  std::vector<int32_t> neighbours;
  int64_t nodes() const { return static_cast<int64_t>(offsets.size()) - 1; }
};

// Adjacency of the directed mesh edges (a->b, b->c, c->a per face), made
// symmetric; duplicates removed.
Adjacency mesh_adjacency(const TriMesh& mesh);

// Reverse Cuthill-McKee order (see the invariants above). Disconnected
// components are handled like scipy: each restarts at the lowest-degree
// unvisited node.
std::vector<int32_t> reverse_cuthill_mckee(const Adjacency& adjacency);
std::vector<int32_t> reverse_cuthill_mckee(const TriMesh& mesh);

}  // namespace gencast
