// Year/day-progress features from their definitions (data_utils in the
// reference): the fixture comparison in test_data_normalization.cpp checks
// the exact float32 values; here the meaning of the formulas.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/error.h"
#include "data/forcings.h"

using namespace gencast;

TEST_CASE("year progress is the fraction of an average 365.24219-day year", "[data][forcings]") {
  CHECK(year_progress(0) == 0.0f);
  const double year_s = 365.24219 * 86400.0;
  // float32 result: 1e-6 is a few ulps around 0.25..0.75.
  CHECK(year_progress(std::llround(0.25 * year_s)) == Approx(0.25f).margin(1e-6));
  CHECK(year_progress(std::llround(10.75 * year_s)) == Approx(0.75f).margin(1e-6));
  // Before 1970 the progress stays in [0, 1), like numpy's mod.
  CHECK(year_progress(-std::llround(0.25 * year_s)) == Approx(0.75f).margin(1e-6));
}

TEST_CASE("day progress is local solar time as a fraction of the day", "[data][forcings]") {
  const std::vector<float> lon = {0.0f, 90.0f, 180.0f, 270.0f};
  const int64_t noon = 12 * 3600 + 20 * 86400;  // 1970-01-21T12:00 UTC
  const std::vector<float> p = day_progress(noon, lon);
  REQUIRE(p.size() == 4);
  CHECK(p[0] == Approx(0.5).margin(1e-6));
  CHECK(p[1] == Approx(0.75).margin(1e-6));
  CHECK(p[2] == Approx(0.0).margin(1e-6));  // wraps to [0, 1)
  CHECK(p[3] == Approx(0.25).margin(1e-6));
  for (float v : p) CHECK((v >= 0.0f && v < 1.0f));
}

TEST_CASE("progress features are sin/cos of 2 pi progress", "[data][forcings]") {
  const std::vector<float> lon = {0.0f, 90.0f};
  const int64_t six = 6 * 3600;  // Greenwich day progress 0.25
  const auto s = progress_feature("day_progress_sin", six, lon);
  const auto c = progress_feature("day_progress_cos", six, lon);
  REQUIRE(s.size() == 2);
  CHECK(s[0] == Approx(1.0).margin(1e-6));
  CHECK(c[0] == Approx(0.0).margin(1e-6));
  CHECK(s[1] == Approx(0.0).margin(1e-6));   // 90 E: progress 0.5
  CHECK(c[1] == Approx(-1.0).margin(1e-6));
  const auto y = progress_feature("year_progress_cos", 0, lon);
  REQUIRE(y.size() == 1);  // one value per time, broadcast by the caller
  CHECK(y[0] == 1.0f);
  CHECK_THROWS_AS(progress_feature("toa_incident_solar_radiation", 0, lon), InputError);
}
