// The bipartite edges between the lat/lon grid and the mesh.
//
// Grid nodes: node = ilat * n_lon + ilon for the given (possibly unsorted)
// lat and lon axes; positions are computed with the reference's float32 numpy
// arithmetic (numpy_float32.h), because grid2mesh membership is decided at
// float32 resolution.
//
// grid2mesh: every (grid node, mesh node) pair whose chord distance is
// <= radius, computed as the reference's kd-tree does (float32 positions,
// squared distance in double). Exact, not approximate: each mesh node scans
// only the latitude rows and, per row, the longitude window that can hold
// points within the radius (with a safety margin), wrapping at 0/360 and
// taking whole rows near the poles.
//
// mesh2grid: each grid node receives from the 3 vertices (in face order) of
// the mesh triangle that contains it (triangle_locator.h).
//
// Invariants: returned EdgeSets are sorted by receiver; grid2mesh senders of
// one mesh node ascend; mesh indices are those of `vertices` / `new_index`.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "graph/edge_set.h"
#include "graph/icosahedral_mesh.h"

namespace gencast {

// [n_lat * n_lon] unit vectors, node = ilat * n_lon + ilon.
std::vector<std::array<float, 3>> grid_positions(const std::vector<float>& lat,
                                                 const std::vector<float>& lon);

// grid2mesh edges: senders = grid nodes, receivers = mesh nodes (indices into
// mesh_vertices), sorted by receiver, then sender.
EdgeSet grid2mesh_radius_edges(const std::vector<float>& lat, const std::vector<float>& lon,
                               const std::vector<std::array<float, 3>>& grid_pos,
                               const std::vector<std::array<float, 3>>& mesh_vertices,
                               double radius);

struct Mesh2GridEdges {
  EdgeSet edges;        // senders = mesh nodes, receivers = grid nodes, 3 per grid node
  int64_t ties = 0;     // grid nodes on an edge shared by several triangles
  std::vector<int32_t> face_of_grid;  // finest-level face picked per grid node
  std::vector<uint8_t> is_tie;        // per grid node: 1 if several faces contain it
};

// mesh2grid edges. `hierarchy` is the unpermuted mesh; new_index[old vertex]
// gives the final mesh node index (identity if the mesh is not permuted).
Mesh2GridEdges mesh2grid_triangle_edges(const std::vector<std::array<float, 3>>& grid_pos,
                                        const MeshHierarchy& hierarchy,
                                        const std::vector<int32_t>& new_index);

}  // namespace gencast
