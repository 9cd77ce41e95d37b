// Node and edge spatial features (see spatial_features.h).
#include "graph/spatial_features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <vector>

#include "core/parallel.h"
#include "graph/numpy_float32.h"

namespace gencast {
namespace {

// Rough costs for parallel_min_rows: a node's angles and features (five
// trig calls); an edge's rotated relative position (ten, counting the
// receiver's rotation once per edge).
constexpr int64_t kNodeFeatureWork = 5 * kTranscendentalWork;
constexpr int64_t kEdgeFeatureWork = 10 * kTranscendentalWork;

struct NodeAngles {
  float phi, theta;  // float32 radians, as the reference's deg2rad gives them
};

NodeAngles angles(float lat, float lon) {
  return {numpy_f32::deg2rad(lon), numpy_f32::deg2rad(90.0f - lat)};
}

// Float32 unit position from the float32 angles, widened to double.
std::array<double, 3> position(const NodeAngles& a) {
  const float sin_theta = numpy_f32::sin(a.theta);
  return {static_cast<double>(numpy_f32::cos(a.phi) * sin_theta),
          static_cast<double>(numpy_f32::sin(a.phi) * sin_theta),
          static_cast<double>(numpy_f32::cos(a.theta))};
}

// Row-major 3x3 rotation R = R_y(b) R_z(a), a = -phi, b = pi/2 - theta. The
// reference forms b in float32 (theta is float32, pi/2 a weak Python float),
// then scipy works in double.
std::array<double, 9> local_rotation(const NodeAngles& n) {
  const auto b32 = static_cast<float>(-n.theta + static_cast<float>(std::numbers::pi / 2.0));
  const double a = -static_cast<double>(n.phi);
  const double b = static_cast<double>(b32);
  const double ca = std::cos(a), sa = std::sin(a), cb = std::cos(b), sb = std::sin(b);
  return {cb * ca, -cb * sa, sb,  //
          sa,      ca,       0.0,
          -sb * ca, sb * sa, cb};
}

std::array<double, 3> rotate(const std::array<double, 9>& r, const std::array<double, 3>& p) {
  return {r[0] * p[0] + r[1] * p[1] + r[2] * p[2], r[3] * p[0] + r[4] * p[1] + r[5] * p[2],
          r[6] * p[0] + r[7] * p[1] + r[8] * p[2]};
}

}  // namespace

void mesh_lat_lon(const std::vector<std::array<float, 3>>& vertices, std::vector<float>& lat,
                  std::vector<float>& lon) {
  lat.resize(vertices.size());
  lon.resize(vertices.size());
  for (size_t i = 0; i < vertices.size(); ++i) {
    const auto& v = vertices[i];
    // float32 arctan2/arccos (correctly rounded here; numpy's may differ by
    // an ulp), then numpy's float32 rad2deg, mod and subtraction.
    const double x = v[0], y = v[1], z = v[2];
    const auto phi = static_cast<float>(std::atan2(y, x));
    const auto theta = static_cast<float>(std::acos(std::clamp(z, -1.0, 1.0)));
    lon[i] = numpy_f32::mod(numpy_f32::rad2deg(phi), 360.0f);
    lat[i] = 90.0f - numpy_f32::rad2deg(theta);
  }
}

ArrayF node_spatial_features(const std::vector<float>& node_lat,
                             const std::vector<float>& node_lon) {
  if (node_lat.size() != node_lon.size()) {
    throw std::invalid_argument("node_spatial_features: lat and lon differ in length");
  }
  const auto n = static_cast<int64_t>(node_lat.size());
  ArrayF f({n, 3});
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const NodeAngles a = angles(node_lat[i], node_lon[i]);
          f.data[3 * i + 0] = numpy_f32::cos(a.theta);
          f.data[3 * i + 1] = numpy_f32::cos(a.phi);
          f.data[3 * i + 2] = numpy_f32::sin(a.phi);
        }
      },
      parallel_min_rows(kNodeFeatureWork));
  return f;
}

ArrayF edge_spatial_features(const EdgeSet& edges, const std::vector<float>& sender_lat,
                             const std::vector<float>& sender_lon,
                             const std::vector<float>& receiver_lat,
                             const std::vector<float>& receiver_lon) {
  const int64_t n_receivers = static_cast<int64_t>(edges.receiver_offsets.size()) - 1;
  if (n_receivers != static_cast<int64_t>(receiver_lat.size()) ||
      edges.receiver_offsets.back() != edges.size()) {
    throw std::invalid_argument("edge_spatial_features: offsets do not match the receivers");
  }
  const int64_t n_edges = edges.size();
  ArrayF f({n_edges, 4});

  // Relative positions of receiver r's edges, handed to `use(edge, d)`.
  auto for_each_edge = [&](int64_t r, auto&& use) {
    const NodeAngles ra = angles(receiver_lat[r], receiver_lon[r]);
    const auto rot = local_rotation(ra);
    const auto pr = rotate(rot, position(ra));
    for (int64_t e = edges.receiver_offsets[r]; e < edges.receiver_offsets[r + 1]; ++e) {
      const int32_t s = edges.senders[e];
      const auto ps = rotate(rot, position(angles(sender_lat[s], sender_lon[s])));
      use(e, std::array<double, 3>{ps[0] - pr[0], ps[1] - pr[1], ps[2] - pr[2]});
    }
  };
  auto length = [](const std::array<double, 3>& d) {
    return std::sqrt((d[0] * d[0] + d[1] * d[1]) + d[2] * d[2]);
  };

  const int64_t min_rows = parallel_min_rows(
      kEdgeFeatureWork * std::max<int64_t>(n_edges / std::max<int64_t>(n_receivers, 1), 1));

  // Pass 1: the normaliser (longest edge of this set). Each receiver's
  // longest edge goes to its own slot and one serial pass takes the maximum
  // in receiver order: no value is combined across ranges (a maximum is
  // exact in any order anyway, but this keeps parallel.h's rule plain).
  std::vector<double> longest_of(static_cast<size_t>(n_receivers), 0.0);
  parallel_for(
      n_receivers,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          double& longest_r = longest_of[static_cast<size_t>(r)];
          for_each_edge(r, [&](int64_t, const std::array<double, 3>& d) {
            longest_r = std::max(longest_r, length(d));
          });
        }
      },
      min_rows);
  double longest = 0.0;
  for (double l : longest_of) longest = std::max(longest, l);
  if (n_edges > 0 && !(longest > 0.0)) {
    throw std::invalid_argument("edge_spatial_features: all edges have zero length");
  }
  // Pass 2: the features.
  parallel_for(
      n_receivers,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          for_each_edge(r, [&](int64_t e, const std::array<double, 3>& d) {
            f.data[4 * e + 0] = static_cast<float>(length(d) / longest);
            for (int k = 0; k < 3; ++k)
              f.data[4 * e + 1 + k] = static_cast<float>(d[k] / longest);
          });
        }
      },
      min_rows);
  return f;
}

}  // namespace gencast
