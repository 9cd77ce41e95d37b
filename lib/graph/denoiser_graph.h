// Everything the GenCast denoiser needs to know about its graphs, built once
// per (grid, mesh size, k-hop) before the first model call.
//
// Contents: the refined icosahedral mesh in the banded (RCM) node order, the
// grid2mesh radius edges, the mesh edges, the mesh2grid triangle edges, the
// k-hop attention neighbourhoods and every structural node/edge feature, all
// as the reference computes them (see the module headers for the details and
// what is bit-exact).
//
// Invariants: mesh node i of every structure is mesh.vertices[i]; grid node
// = ilat * n_lon + ilon in the caller's lat/lon order; every EdgeSet is sorted
// by receiver with offsets; features are float32.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/array.h"
#include "core/csr.h"
#include "graph/edge_set.h"
#include "graph/icosahedral_mesh.h"

namespace gencast {

struct GraphBuildOptions {
  int mesh_size = 6;                 // icosahedron refinements (finest level only)
  int attention_k_hop = 16;          // hops of the transformer's attention mask
  double radius_fraction = 0.6;      // grid2mesh radius / longest mesh edge chord
  // Impose a mesh node order (order[i] = unpermuted index of node i) instead
  // of our reverse Cuthill-McKee (which equals scipy's for mesh sizes 3..6).
  std::optional<std::vector<int32_t>> mesh_order;
  // Impose mesh2grid edges (mesh idx in the final order, grid idx), e.g. the
  // reference's stored ones, whose picks at exact ties are build dependent.
  // Exactly 3 edges per grid node.
  std::optional<std::pair<std::vector<int32_t>, std::vector<int32_t>>> mesh2grid_override;
  // Impose mesh node (lat, lon) in degrees, final node order, e.g. the
  // reference's stored ones. The reference derives them with numpy's float32
  // arctan2/arccos, whose last bit depends on the CPU (SIMD/SVML or libm);
  // one ulp there (3e-5 deg) moves normalised edge features by up to ~1e-5
  // at mesh 3 and ~5e-5 at mesh 6. Only the features use them.
  std::optional<std::pair<std::vector<float>, std::vector<float>>> mesh_lat_lon_override;
  // Names the origin of lat/lon and options in error messages (a file path).
  std::string source = "graph options";
};

// Seconds spent per build stage (for `bench --graph-only` and debug logs).
struct GraphBuildTimings {
  double mesh = 0, order = 0, grid2mesh = 0, mesh2grid = 0, features = 0, attention = 0,
         total = 0;
};

struct DenoiserGraph {
  int64_t n_lat = 0, n_lon = 0, n_grid = 0, n_mesh = 0;
  std::vector<float> grid_lat, grid_lon;   // 1-D axes, degrees, as given
  TriMesh mesh;                            // final (banded) order
  std::vector<int32_t> mesh_order;         // mesh_order[i] = unpermuted index of node i
  std::vector<float> mesh_lat, mesh_lon;   // degrees, float32 as the reference
  ArrayF grid_node_features, mesh_node_features;  // [N, 3]
  EdgeSet grid2mesh;   // senders grid nodes, receivers mesh nodes
  EdgeSet mesh_edges;  // mesh -> mesh, both directions of every face edge
  EdgeSet mesh2grid;   // senders mesh nodes, receivers grid nodes (3 each)
  int64_t n_mesh_edges = 0;
  double max_mesh_edge_chord = 0;  // float32 value, widened
  double grid2mesh_radius = 0;     // radius_fraction * max_mesh_edge_chord
  Csr attention;                   // k-hop neighbourhoods, rows ascending
  int64_t mesh2grid_ties = 0;      // grid nodes on an edge between triangles
  std::vector<int32_t> mesh2grid_tie_nodes;  // those grid nodes (empty if imposed)
  GraphBuildTimings timings;
};

// Builds the graphs for a lat/lon grid. lat: distinct values in [-90, 90],
// lon: distinct modulo 360, both finite. Throws InputError (naming
// options.source) on bad axes or options.
DenoiserGraph build_denoiser_graph(const std::vector<float>& lat, const std::vector<float>& lon,
                                   const GraphBuildOptions& options);

}  // namespace gencast
