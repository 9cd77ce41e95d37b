// A tool for scripts/gpu-check.sh, not part of the suite (hidden tag): do two
// forecast files of ours hold the same values, bit for bit, in every member,
// lead and channel? Reads the paths from GENCAST_COMPARE_A and
// GENCAST_COMPARE_B, so that the GPU host (which has no Python netCDF4) can
// check that a killed-and-resumed run equals the uninterrupted one.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "io/forecast_reader.h"

using namespace gencast;

TEST_CASE("compare two forecast files bit for bit (GENCAST_COMPARE_A/B)", "[.compare]") {
  const char* a_path = std::getenv("GENCAST_COMPARE_A");
  const char* b_path = std::getenv("GENCAST_COMPARE_B");
  REQUIRE(a_path != nullptr);
  REQUIRE(b_path != nullptr);
  const ForecastReader a(a_path), b(b_path);
  const ForecastOutputSpec& sa = a.info().spec;
  const ForecastOutputSpec& sb = b.info().spec;
  REQUIRE(sa.member_ids == sb.member_ids);
  REQUIRE(sa.lead_hours == sb.lead_hours);
  REQUIRE(sa.channels == sb.channels);
  const size_t n = sa.lat.size() * sa.lon.size() * sa.channels.size();
  REQUIRE(n == sb.lat.size() * sb.lon.size() * sb.channels.size());
  std::vector<float> va(n), vb(n);
  size_t differing_steps = 0;
  for (size_t m = 0; m < sa.member_ids.size(); ++m)
    for (size_t l = 0; l < sa.lead_hours.size(); ++l) {
      a.read_step(static_cast<int>(m), static_cast<int>(l), va.data());
      b.read_step(static_cast<int>(m), static_cast<int>(l), vb.data());
      const bool same = std::memcmp(va.data(), vb.data(), n * sizeof(float)) == 0;
      if (!same) UNSCOPED_INFO("member " << sa.member_ids[m] << " lead " << sa.lead_hours[l] << " h differs");
      differing_steps += same ? 0 : 1;
    }
  CHECK(differing_steps == 0);
}
