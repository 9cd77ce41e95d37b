// Assembles the denoiser graphs from the graph modules (see denoiser_graph.h).
#include "graph/denoiser_graph.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/stopwatch.h"
#include "graph/attention_neighbourhood.h"
#include "graph/grid_mesh_edges.h"
#include "graph/mesh_order.h"
#include "graph/spatial_features.h"

namespace gencast {
namespace {

void validate_axes(const std::vector<float>& lat, const std::vector<float>& lon,
                   const std::string& source) {
  ProblemList problems;
  if (lat.empty()) problems.add(source, "lat", "at least one latitude", "none");
  if (lon.empty()) problems.add(source, "lon", "at least one longitude", "none");
  for (size_t i = 0; i < lat.size(); ++i) {
    if (!std::isfinite(lat[i]) || lat[i] < -90.0f || lat[i] > 90.0f) {
      problems.add(source, "lat[" + std::to_string(i) + "]", "a latitude in [-90, 90] degrees",
                   std::to_string(lat[i]));
      break;
    }
  }
  for (size_t i = 0; i < lon.size(); ++i) {
    if (!std::isfinite(lon[i])) {
      problems.add(source, "lon[" + std::to_string(i) + "]", "a finite longitude in degrees",
                   std::to_string(lon[i]));
      break;
    }
  }
  problems.throw_if_any();
  std::vector<float> sorted_lat(lat);
  std::sort(sorted_lat.begin(), sorted_lat.end());
  if (std::adjacent_find(sorted_lat.begin(), sorted_lat.end()) != sorted_lat.end()) {
    problems.add(source, "lat", "distinct latitudes", "a repeated value",
                 "each grid row must have its own latitude");
  }
  std::vector<double> wrapped;
  for (float v : lon) {
    double w = std::fmod(static_cast<double>(v), 360.0);
    wrapped.push_back(w < 0 ? w + 360.0 : w);
  }
  std::sort(wrapped.begin(), wrapped.end());
  if (std::adjacent_find(wrapped.begin(), wrapped.end()) != wrapped.end()) {
    problems.add(source, "lon", "longitudes distinct modulo 360", "a repeated longitude",
                 "drop the duplicated wrap-around column (e.g. both 0 and 360)");
  }
  problems.throw_if_any();
}

void validate_options(const GraphBuildOptions& o) {
  ProblemList problems;
  if (o.mesh_size < 0 || o.mesh_size > 7) {
    problems.add(o.source, "mesh_size", "an integer in [0, 7]", std::to_string(o.mesh_size),
                 "GenCast uses 5 (1 deg) or 6 (0.25 deg)");
  }
  if (o.attention_k_hop < 0 || o.attention_k_hop > 64) {
    problems.add(o.source, "attention_k_hop", "an integer in [0, 64]",
                 std::to_string(o.attention_k_hop));
  }
  if (!(o.radius_fraction > 0.0) || !std::isfinite(o.radius_fraction)) {
    problems.add(o.source, "radius_query_fraction_edge_length", "a positive finite number",
                 std::to_string(o.radius_fraction));
  }
  problems.throw_if_any();
}

void validate_order(const std::vector<int32_t>& order, size_t n, const std::string& source) {
  if (order.size() != n) {
    fail_input(source, "mesh_order", std::to_string(n) + " mesh node indices",
               std::to_string(order.size()));
  }
  std::vector<char> seen(n, 0);
  for (int32_t v : order) {
    if (v < 0 || static_cast<size_t>(v) >= n || seen[v]) {
      fail_input(source, "mesh_order", "a permutation of 0.." + std::to_string(n - 1),
                 "index " + std::to_string(v) + (v >= 0 && static_cast<size_t>(v) < n
                                                      ? " repeated" : " out of range"));
    }
    seen[v] = 1;
  }
}

EdgeSet imposed_mesh2grid(const std::pair<std::vector<int32_t>, std::vector<int32_t>>& edges,
                          int64_t n_mesh, int64_t n_grid, const std::string& source) {
  const auto& [mesh_idx, grid_idx] = edges;
  if (mesh_idx.size() != grid_idx.size() ||
      static_cast<int64_t>(mesh_idx.size()) != 3 * n_grid) {
    fail_input(source, "mesh2grid edges",
               std::to_string(3 * n_grid) + " (mesh, grid) pairs, 3 per grid node",
               std::to_string(mesh_idx.size()) + " mesh and " + std::to_string(grid_idx.size()) +
                   " grid indices");
  }
  std::vector<int32_t> per_grid(static_cast<size_t>(n_grid), 0);
  for (size_t e = 0; e < mesh_idx.size(); ++e) {
    if (mesh_idx[e] < 0 || mesh_idx[e] >= n_mesh) {
      fail_input(source, "mesh2grid edges", "mesh indices in [0, " + std::to_string(n_mesh) + ")",
                 std::to_string(mesh_idx[e]));
    }
    if (grid_idx[e] < 0 || grid_idx[e] >= n_grid || ++per_grid[grid_idx[e]] > 3) {
      fail_input(source, "mesh2grid edges",
                 "grid indices in [0, " + std::to_string(n_grid) + "), 3 per grid node",
                 std::to_string(grid_idx[e]));
    }
  }
  return edge_set_by_receiver(mesh_idx, grid_idx, n_grid);
}

void validate_mesh_lat_lon(const std::pair<std::vector<float>, std::vector<float>>& lat_lon,
                           int64_t n_mesh, const std::string& source) {
  const auto& [lat, lon] = lat_lon;
  if (static_cast<int64_t>(lat.size()) != n_mesh || static_cast<int64_t>(lon.size()) != n_mesh) {
    fail_input(source, "mesh lat/lon", std::to_string(n_mesh) + " values each",
               std::to_string(lat.size()) + " lat and " + std::to_string(lon.size()) + " lon");
  }
  for (size_t i = 0; i < lat.size(); ++i) {
    if (!std::isfinite(lat[i]) || !std::isfinite(lon[i]) || std::fabs(lat[i]) > 90.0f) {
      fail_input(source, "mesh lat/lon[" + std::to_string(i) + "]", "finite degrees, |lat| <= 90",
                 std::to_string(lat[i]) + ", " + std::to_string(lon[i]));
    }
  }
}

}  // namespace

DenoiserGraph build_denoiser_graph(const std::vector<float>& lat, const std::vector<float>& lon,
                                   const GraphBuildOptions& options) {
  validate_options(options);
  validate_axes(lat, lon, options.source);
  Stopwatch clock;
  DenoiserGraph g;
  g.n_lat = static_cast<int64_t>(lat.size());
  g.n_lon = static_cast<int64_t>(lon.size());
  g.n_grid = g.n_lat * g.n_lon;
  g.grid_lat = lat;
  g.grid_lon = lon;

  // Mesh, in the reference's unpermuted order, with its refinement hierarchy
  // (for locating grid points).
  MeshHierarchy hierarchy = icosahedral_mesh_hierarchy(options.mesh_size);
  const TriMesh unpermuted{hierarchy.vertices, hierarchy.faces.back()};
  g.n_mesh = static_cast<int64_t>(unpermuted.vertices.size());
  g.max_mesh_edge_chord = static_cast<double>(max_edge_chord(unpermuted));
  g.grid2mesh_radius = g.max_mesh_edge_chord * options.radius_fraction;
  g.timings.mesh = clock.lap();

  if (options.mesh_order) {
    validate_order(*options.mesh_order, unpermuted.vertices.size(), options.source);
    g.mesh_order = *options.mesh_order;
  } else {
    g.mesh_order = reverse_cuthill_mckee(unpermuted);
  }
  g.mesh = permute_mesh(unpermuted, g.mesh_order);
  std::vector<int32_t> new_index(g.mesh_order.size());
  for (size_t i = 0; i < g.mesh_order.size(); ++i) {
    new_index[g.mesh_order[i]] = static_cast<int32_t>(i);
  }
  const MeshEdges directed = mesh_edges(g.mesh.faces);
  g.n_mesh_edges = static_cast<int64_t>(directed.senders.size());
  g.mesh_edges = edge_set_by_receiver(directed.senders, directed.receivers, g.n_mesh);
  g.timings.order = clock.lap();

  const auto grid_pos = grid_positions(lat, lon);
  g.grid2mesh = grid2mesh_radius_edges(lat, lon, grid_pos, g.mesh.vertices, g.grid2mesh_radius);
  g.timings.grid2mesh = clock.lap();

  if (options.mesh2grid_override) {
    g.mesh2grid = imposed_mesh2grid(*options.mesh2grid_override, g.n_mesh, g.n_grid,
                                    options.source);
  } else {
    Mesh2GridEdges m2g = mesh2grid_triangle_edges(grid_pos, hierarchy, new_index);
    g.mesh2grid = std::move(m2g.edges);
    g.mesh2grid_ties = m2g.ties;
    for (int64_t i = 0; i < g.n_grid; ++i) {
      if (m2g.is_tie[i]) g.mesh2grid_tie_nodes.push_back(static_cast<int32_t>(i));
    }
  }
  g.timings.mesh2grid = clock.lap();

  // Per-node lat/lon for the features: grid nodes flattened lat-major.
  if (options.mesh_lat_lon_override) {
    validate_mesh_lat_lon(*options.mesh_lat_lon_override, g.n_mesh, options.source);
    g.mesh_lat = options.mesh_lat_lon_override->first;
    g.mesh_lon = options.mesh_lat_lon_override->second;
  } else {
    mesh_lat_lon(g.mesh.vertices, g.mesh_lat, g.mesh_lon);
  }
  const auto n_grid = static_cast<size_t>(g.n_grid);
  std::vector<float> node_lat(n_grid), node_lon(n_grid);
  for (int64_t i = 0; i < g.n_lat; ++i) {
    for (int64_t j = 0; j < g.n_lon; ++j) {
      node_lat[i * g.n_lon + j] = lat[i];
      node_lon[i * g.n_lon + j] = lon[j];
    }
  }
  g.grid_node_features = node_spatial_features(node_lat, node_lon);
  g.mesh_node_features = node_spatial_features(g.mesh_lat, g.mesh_lon);
  g.grid2mesh.features =
      edge_spatial_features(g.grid2mesh, node_lat, node_lon, g.mesh_lat, g.mesh_lon);
  g.mesh_edges.features =
      edge_spatial_features(g.mesh_edges, g.mesh_lat, g.mesh_lon, g.mesh_lat, g.mesh_lon);
  g.mesh2grid.features =
      edge_spatial_features(g.mesh2grid, g.mesh_lat, g.mesh_lon, node_lat, node_lon);
  g.timings.features = clock.lap();

  g.attention = k_hop_neighbourhood(mesh_adjacency(g.mesh), options.attention_k_hop);
  g.timings.attention = clock.lap();
  const auto& t = g.timings;
  g.timings.total = t.mesh + t.order + t.grid2mesh + t.mesh2grid + t.features + t.attention;
  spdlog::debug(
      "graph: mesh {} ({} nodes) {:.2f}s, order {:.2f}s, grid2mesh {} edges {:.2f}s, mesh2grid "
      "{} edges ({} ties) {:.2f}s, features {:.2f}s, attention k={} nnz {} {:.2f}s, total {:.2f}s",
      options.mesh_size, g.n_mesh, t.mesh, t.order, g.grid2mesh.size(), t.grid2mesh,
      g.mesh2grid.size(), g.mesh2grid_ties, t.mesh2grid, t.features, options.attention_k_hop,
      g.attention.nnz(), t.attention, t.total);
  return g;
}

}  // namespace gencast
