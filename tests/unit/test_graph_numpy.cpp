// The numpy-exact float32 helpers behind the graph geometry. The reference's
// node features are numpy float32 sin/cos outputs, so they test our
// reproduction bit for bit (graph_tiny.npz).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <string>

#include "graph/numpy_float32.h"
#include "graph/spatial_features.h"
#include "io/npz.h"

using namespace gencast;

namespace {

std::string tiny_graph() {
  return std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/graph_tiny.npz";
}

// The tiny fixture's grid: lat -90..90 step 4 (46 rows), lon 0..356 step 4
// (90 columns), node = ilat * 90 + ilon (tests/data/gencast_tiny/README.md).
void tiny_grid_nodes(std::vector<float>& lat, std::vector<float>& lon) {
  for (int i = 0; i < 46; ++i) {
    for (int j = 0; j < 90; ++j) {
      lat.push_back(static_cast<float>(-90 + 4 * i));
      lon.push_back(static_cast<float>(4 * j));
    }
  }
}

int64_t count_bit_differences(const ArrayF& a, const ArrayF& b) {
  int64_t n = 0;
  for (size_t i = 0; i < a.data.size(); ++i) n += !(a.data[i] == b.data[i]);
  return n;
}

}  // namespace

TEST_CASE("numpy float32 sin and cos reproduce the reference's grid node features bit for bit",
          "[graph]") {
  NpzReader npz(tiny_graph());
  std::vector<float> lat, lon;
  tiny_grid_nodes(lat, lon);
  const ArrayF ours = node_spatial_features(lat, lon);
  for (const char* key :
       {"grid2mesh_grid_nodes_node_features", "mesh2grid_grid_nodes_node_features"}) {
    INFO(key);
    const ArrayF ref = npz.read_f32(key);
    REQUIRE(ref.shape == ours.shape);
    // Exact: the same float32 operations as numpy's vectorised sin/cos.
    CHECK(count_bit_differences(ours, ref) == 0);
  }
}

TEST_CASE("numpy float32 sin and cos reproduce the reference's mesh node features bit for bit",
          "[graph]") {
  // Fed the reference's own mesh lat/lon, so only sin/cos/deg2rad are tested.
  NpzReader npz(tiny_graph());
  const ArrayF lat = npz.read_f32("mesh_nodes_lat");
  const ArrayF lon = npz.read_f32("mesh_nodes_lon");
  const ArrayF ours = node_spatial_features(lat.data, lon.data);
  for (const char* key : {"grid2mesh_mesh_nodes_node_features", "mesh_mesh_nodes_node_features",
                          "mesh2grid_mesh_nodes_node_features"}) {
    INFO(key);
    const ArrayF ref = npz.read_f32(key);
    REQUIRE(ref.shape == ours.shape);
    CHECK(count_bit_differences(ours, ref) == 0);
  }
}

TEST_CASE("numpy float32 sin and cos stay within 2 ulp of the true values", "[graph]") {
  // numpy documents a maximum error of 1.49 ulp for its vectorised float32
  // sin/cos; 2 ulp of headroom, judged against double-precision libm.
  int64_t worst_ulps = 0;
  for (int i = -200000; i <= 200000; ++i) {
    const float x = static_cast<float>(i) * 1.7e-4f;  // about [-34, 34] radians
    for (int which = 0; which < 2; ++which) {
      const float ours = which ? numpy_f32::cos(x) : numpy_f32::sin(x);
      const double wide = x;
      const double exact = which ? std::cos(wide) : std::sin(wide);
      const float rounded = static_cast<float>(exact);
      const double ulp = std::nextafter(std::fabs(rounded), INFINITY) - std::fabs(rounded);
      const double error = std::fabs(static_cast<double>(ours) - exact);
      const auto ulps = static_cast<int64_t>(std::ceil(error / ulp));
      worst_ulps = std::max(worst_ulps, ulps);
    }
  }
  CHECK(worst_ulps <= 2);
}

TEST_CASE("numpy float32 deg2rad, rad2deg and mod follow numpy's definitions", "[graph]") {
  // deg2rad multiplies by float32(pi/180); rad2deg by 180.0f / float32(pi).
  CHECK(numpy_f32::deg2rad(180.0f) == 180.0f * static_cast<float>(std::numbers::pi / 180.0));
  CHECK(numpy_f32::rad2deg(1.0f) == 180.0f / static_cast<float>(std::numbers::pi));
  // mod takes the sign of the divisor, like Python's %.
  CHECK(numpy_f32::mod(-90.0f, 360.0f) == 270.0f);
  CHECK(numpy_f32::mod(450.0f, 360.0f) == 90.0f);
  CHECK(numpy_f32::mod(-360.0f, 360.0f) == 0.0f);
  CHECK(!std::signbit(numpy_f32::mod(-360.0f, 360.0f)));
  // A tiny negative angle wraps to 360 after float32 rounding, as in numpy.
  CHECK(numpy_f32::mod(-1e-8f, 360.0f) == 360.0f);
}

TEST_CASE("numpy float32 norms: sdot sums float32 squares in double, row norms in float32",
          "[graph]") {
  // (1, a, a) with a*a = 0.6 ulp(1): the float32 running sum rounds up twice
  // (1 + 2 ulp, sqrt -> 1 + 1 ulp) while the double sum rounds once
  // (1 + 1 ulp, sqrt -> 1). numpy gives 1.0000001 for norm(axis=-1) and 1.0
  // for the 1-D norm of this vector (checked with numpy 2.4).
  const std::array<float, 3> v = {1.0f, 2.6744e-4f, 2.6744e-4f};
  CHECK(numpy_f32::norm3_rows(v) == std::nextafter(1.0f, 2.0f));
  CHECK(numpy_f32::norm3_sdot(v) == 1.0f);
}
