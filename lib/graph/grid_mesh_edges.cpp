// grid2mesh radius edges and mesh2grid triangle edges (see grid_mesh_edges.h).
#include "graph/grid_mesh_edges.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>

#include "core/parallel.h"
#include "graph/numpy_float32.h"
#include "graph/triangle_locator.h"

namespace gencast {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDegToRad = kPi / 180.0;

// Angular slack added to every candidate window. The float32 positions differ
// from the exact lat/lon directions by < 1e-6 rad; 1e-5 rad covers that with
// room to spare, and the exact distance test decides membership.
constexpr double kWindowSlack = 1e-5;

// Rough costs per row of the loops below, for parallel_min_rows: a unit
// vector from lat/lon (four trig calls); one mesh vertex's window search (a
// few trig calls per scanned grid row, tens of distance tests); locating one
// grid point (a descent through the face hierarchy).
constexpr int64_t kUnitVectorWork = 4 * kTranscendentalWork;
constexpr int64_t kWindowSearchWork = 2000;
constexpr int64_t kLocateWork = 1000;

// Grid axes sorted for window searches; `index` maps back to the axis index.
struct SortedAxis {
  std::vector<double> value;   // radians (lat) or degrees in [0, 360) (lon)
  std::vector<int32_t> index;
};

SortedAxis sorted_lat(const std::vector<float>& lat) {
  SortedAxis a;
  a.index.resize(lat.size());
  std::iota(a.index.begin(), a.index.end(), 0);
  std::stable_sort(a.index.begin(), a.index.end(),
                   [&](int32_t x, int32_t y) { return lat[x] < lat[y]; });
  for (int32_t i : a.index) a.value.push_back(static_cast<double>(lat[i]) * kDegToRad);
  return a;
}

SortedAxis sorted_lon(const std::vector<float>& lon) {
  std::vector<double> wrapped(lon.size());
  for (size_t i = 0; i < lon.size(); ++i) {
    double w = std::fmod(static_cast<double>(lon[i]), 360.0);
    if (w < 0.0) w += 360.0;
    wrapped[i] = w;
  }
  SortedAxis a;
  a.index.resize(lon.size());
  std::iota(a.index.begin(), a.index.end(), 0);
  std::stable_sort(a.index.begin(), a.index.end(),
                   [&](int32_t x, int32_t y) { return wrapped[x] < wrapped[y]; });
  for (int32_t i : a.index) a.value.push_back(wrapped[i]);
  return a;
}

// Squared chord distance as scipy's kd-tree computes it: float32 inputs
// widened to double, squares summed left to right.
double squared_distance(const std::array<float, 3>& a, const std::array<float, 3>& b) {
  const double dx = static_cast<double>(a[0]) - static_cast<double>(b[0]);
  const double dy = static_cast<double>(a[1]) - static_cast<double>(b[1]);
  const double dz = static_cast<double>(a[2]) - static_cast<double>(b[2]);
  return (dx * dx + dy * dy) + dz * dz;
}

}  // namespace

std::vector<std::array<float, 3>> grid_positions(const std::vector<float>& lat,
                                                 const std::vector<float>& lon) {
  std::vector<std::array<float, 3>> pos(lat.size() * lon.size());
  const auto n_lat = static_cast<int64_t>(lat.size());
  const auto n_lon = static_cast<int64_t>(lon.size());
  parallel_for(
      n_lat,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          for (size_t j = 0; j < lon.size(); ++j) {
            pos[static_cast<size_t>(i) * lon.size() + j] =
                numpy_f32::lat_lon_to_unit(lat[i], lon[j]);
          }
        }
      },
      parallel_min_rows(n_lon * kUnitVectorWork));
  return pos;
}

EdgeSet grid2mesh_radius_edges(const std::vector<float>& lat, const std::vector<float>& lon,
                               const std::vector<std::array<float, 3>>& grid_pos,
                               const std::vector<std::array<float, 3>>& mesh_vertices,
                               double radius) {
  const auto n_lon = static_cast<int64_t>(lon.size());
  if (static_cast<int64_t>(grid_pos.size()) != static_cast<int64_t>(lat.size()) * n_lon) {
    throw std::invalid_argument("grid2mesh_radius_edges: grid_pos size != n_lat * n_lon");
  }
  const SortedAxis lat_axis = sorted_lat(lat);
  const SortedAxis lon_axis = sorted_lon(lon);
  const double r2 = radius * radius;
  // Angular radius of the chord ball, plus slack.
  const double alpha = 2.0 * std::asin(std::min(1.0, radius / 2.0)) + kWindowSlack;
  const double cos_alpha = std::cos(std::min(alpha, kPi));

  const auto n_mesh = static_cast<int64_t>(mesh_vertices.size());
  std::vector<std::vector<int32_t>> senders_of(static_cast<size_t>(n_mesh));
  // The senders of mesh vertex m, sorted.
  auto search = [&](int64_t m) {
    const auto& v = mesh_vertices[m];
    const double vx = v[0], vy = v[1], vz = v[2];
    const double norm = std::sqrt(vx * vx + vy * vy + vz * vz);
    const double mesh_lat = std::asin(std::clamp(vz / norm, -1.0, 1.0));
    double mesh_lon = std::atan2(vy, vx) / kDegToRad;
    if (mesh_lon < 0.0) mesh_lon += 360.0;
    const double sin_m = std::sin(mesh_lat), cos_m = std::cos(mesh_lat);

    auto& out = senders_of[m];
    auto test = [&](int32_t ilat, int32_t ilon) {
      const int64_t node = static_cast<int64_t>(ilat) * n_lon + ilon;
      if (squared_distance(grid_pos[node], v) <= r2) out.push_back(static_cast<int32_t>(node));
    };
    const auto row_begin = std::lower_bound(lat_axis.value.begin(), lat_axis.value.end(),
                                            mesh_lat - alpha) - lat_axis.value.begin();
    const auto row_end = std::upper_bound(lat_axis.value.begin(), lat_axis.value.end(),
                                          mesh_lat + alpha) - lat_axis.value.begin();
    for (auto row = row_begin; row < row_end; ++row) {
      const int32_t ilat = lat_axis.index[row];
      const double grid_lat = lat_axis.value[row];
      // Longitudes within alpha on this row satisfy
      // cos(dlon) >= (cos(alpha) - sin(lat_g) sin(lat_m)) / (cos(lat_g) cos(lat_m)).
      const double denom = std::cos(grid_lat) * cos_m;
      const double numer = cos_alpha - std::sin(grid_lat) * sin_m;
      bool whole_row = denom < 1e-12;
      double half_width = 0.0;  // degrees
      if (!whole_row) {
        const double c = numer / denom;
        if (c <= -1.0) {
          whole_row = true;
        } else {
          half_width = (std::acos(std::min(c, 1.0)) + kWindowSlack) / kDegToRad;
          whole_row = half_width >= 180.0;
        }
      }
      if (whole_row) {
        for (int64_t j = 0; j < n_lon; ++j) test(ilat, static_cast<int32_t>(j));
        continue;
      }
      // Window [mesh_lon - hw, mesh_lon + hw] on the circle, scanned from its
      // start with wrap-around.
      double start = mesh_lon - half_width;
      if (start < 0.0) start += 360.0;
      const double span = 2.0 * half_width;
      auto j = std::lower_bound(lon_axis.value.begin(), lon_axis.value.end(), start) -
               lon_axis.value.begin();
      for (int64_t count = 0; count < n_lon; ++count, ++j) {
        const bool wrapped = j >= n_lon;
        const int64_t k = wrapped ? j - n_lon : j;
        const double offset = lon_axis.value[k] + (wrapped ? 360.0 : 0.0) - start;
        if (offset > span) break;
        test(ilat, lon_axis.index[k]);
      }
    }
    std::sort(out.begin(), out.end());
  };
  // Vertices differ in cost (whole grid rows near the poles) but the mesh
  // order mixes latitudes, so contiguous ranges balance well enough.
  parallel_for(
      n_mesh,
      [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) search(m);
      },
      parallel_min_rows(kWindowSearchWork));

  EdgeSet edges;
  edges.receiver_offsets.assign(static_cast<size_t>(n_mesh) + 1, 0);
  for (int64_t m = 0; m < n_mesh; ++m) {
    edges.receiver_offsets[m + 1] =
        edges.receiver_offsets[m] + static_cast<int32_t>(senders_of[m].size());
  }
  const size_t total = static_cast<size_t>(edges.receiver_offsets.back());
  edges.senders.resize(total);
  edges.receivers.resize(total);
  parallel_for(
      n_mesh,
      [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) {
          const size_t at = static_cast<size_t>(edges.receiver_offsets[m]);
          std::copy(senders_of[m].begin(), senders_of[m].end(),
                    edges.senders.begin() + static_cast<std::ptrdiff_t>(at));
          std::fill_n(edges.receivers.begin() + static_cast<std::ptrdiff_t>(at),
                      senders_of[m].size(), static_cast<int32_t>(m));
        }
      },
      parallel_min_rows(2 * static_cast<int64_t>(total) / std::max<int64_t>(n_mesh, 1)));
  return edges;
}

Mesh2GridEdges mesh2grid_triangle_edges(const std::vector<std::array<float, 3>>& grid_pos,
                                        const MeshHierarchy& hierarchy,
                                        const std::vector<int32_t>& new_index) {
  const TriangleLocator locator(hierarchy);
  const auto& faces = hierarchy.faces.back();
  const auto n_grid = static_cast<int64_t>(grid_pos.size());
  Mesh2GridEdges out;
  out.face_of_grid.resize(static_cast<size_t>(n_grid));
  out.is_tie.assign(static_cast<size_t>(n_grid), 0);
  out.edges.senders.resize(static_cast<size_t>(3 * n_grid));
  out.edges.receivers.resize(static_cast<size_t>(3 * n_grid));
  out.edges.receiver_offsets.resize(static_cast<size_t>(n_grid) + 1);
  // The tie count is an integer sum over ranges: exact in any order.
  out.ties = parallel_count(
      n_grid,
      [&](int64_t g0, int64_t g1) {
        int64_t ties = 0;
        for (int64_t g = g0; g < g1; ++g) {
          const auto& p = grid_pos[g];
          const TriangleHit hit = locator.locate(
              {static_cast<double>(p[0]), static_cast<double>(p[1]), static_cast<double>(p[2])});
          if (hit.tied > 1) {
            ++ties;
            out.is_tie[g] = 1;
          }
          out.face_of_grid[g] = hit.face;
          for (int k = 0; k < 3; ++k) {
            out.edges.senders[3 * g + k] = new_index[faces[hit.face][k]];
            out.edges.receivers[3 * g + k] = static_cast<int32_t>(g);
          }
          out.edges.receiver_offsets[g] = static_cast<int32_t>(3 * g);
        }
        return ties;
      },
      parallel_min_rows(kLocateWork));
  out.edges.receiver_offsets[n_grid] = static_cast<int32_t>(3 * n_grid);
  return out;
}

}  // namespace gencast
