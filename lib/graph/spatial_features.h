// Structural node and edge features of the denoiser graphs.
//
// The reference's settings (model_utils.get_graph_spatial_features and its
// bipartite twin): node latitude and longitude features, relative positions
// in the receiver's local frame, no absolute positions, edges normalised by
// the longest edge of the same edge set.
//
//  * node features [N,3] = [cos(theta), cos(phi), sin(phi)] with
//    phi = deg2rad(lon), theta = deg2rad(90 - lat), float32 as the reference.
//  * edge features [E,4] = [|d|, dx, dy, dz] / max|d| over the edge set, with
//    d = R_r p_s - R_r p_r, p = float32 unit position from the node's lat/lon,
//    and R_r the rotation taking the receiver to longitude 0 and then
//    latitude 0 (rotate by -phi about z, then by pi/2 - theta about y).
//    Computed in double, stored float32.
//
// Invariants: positions come from the nodes' float32 lat/lon (not from mesh
// vertices), exactly as the reference does; features of an edge do not
// depend on edge order.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/array.h"
#include "graph/edge_set.h"

namespace gencast {

// Mesh node lat/lon (degrees, float32) from unit vertices, as the reference:
// lon = mod(rad2deg(arctan2(y, x)), 360), lat = 90 - rad2deg(arccos(z)).
void mesh_lat_lon(const std::vector<std::array<float, 3>>& vertices, std::vector<float>& lat,
                  std::vector<float>& lon);

// [N,3] node features from per-node lat/lon (degrees).
ArrayF node_spatial_features(const std::vector<float>& node_lat,
                             const std::vector<float>& node_lon);

// [E,4] edge features for `edges` (must be receiver-sorted, with offsets);
// senders index the sender node set, receivers the receiver node set.
ArrayF edge_spatial_features(const EdgeSet& edges, const std::vector<float>& sender_lat,
                             const std::vector<float>& sender_lon,
                             const std::vector<float>& receiver_lat,
                             const std::vector<float>& receiver_lon);

}  // namespace gencast
