// Test helpers for CLI runs of the tiny fixture model (tests/data/gencast_tiny)
// and for comparing whole forecast files.
#pragma once

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli/cli_runner.h"
#include "io/forecast_reader.h"

namespace gencast::testing {

inline std::string tiny_fixture(const std::string& name) {
  return std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/" + name;
}

// Flags running the tiny model from the fixture input into `output` on
// `device` (written as it is: "$dev" lets a shell script choose it).
inline std::string tiny_flags(const std::string& output, const std::string& device = "cpu") {
  return "--checkpoint " + shell_quote(tiny_fixture("tiny_checkpoint.npz")) + " --stats-dir " +
         shell_quote(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny") + " --input " +
         shell_quote(tiny_fixture("source_tiny.nc")) + " --output " + shell_quote(output) +
         " --device " + device;
}

// Both files hold the same members, lead times and variables, and every
// value is the same float32 (NaN where the other has NaN).
inline void require_same_forecast(const std::string& expected_path, const std::string& actual_path) {
  const ForecastReader expected(expected_path), actual(actual_path);
  const ForecastOutputSpec &e = expected.info().spec, &a = actual.info().spec;
  REQUIRE(a.member_ids == e.member_ids);
  REQUIRE(a.lead_hours == e.lead_hours);
  REQUIRE(a.channels == e.channels);
  REQUIRE(a.lat == e.lat);
  REQUIRE(a.lon == e.lon);
  const size_t n = e.lat.size() * e.lon.size() * e.channels.size();
  std::vector<float> ve(n), va(n);
  size_t nan = 0;
  for (int m = 0; m < static_cast<int>(e.member_ids.size()); ++m)
    for (int l = 0; l < static_cast<int>(e.lead_hours.size()); ++l) {
      expected.read_step(m, l, ve.data());
      actual.read_step(m, l, va.data());
      for (size_t i = 0; i < n; ++i) {
        if (std::isnan(ve[i]) || std::isnan(va[i])) {
          REQUIRE((std::isnan(ve[i]) && std::isnan(va[i])));
          ++nan;
        } else if (std::memcmp(&ve[i], &va[i], sizeof(float)) != 0) {
          FAIL("member " << e.member_ids[static_cast<size_t>(m)] << " lead " << e.lead_hours[static_cast<size_t>(l)]
                         << " h value " << i << ": " << ve[i] << " vs " << va[i]);
        }
      }
    }
  REQUIRE(nan < n * e.member_ids.size() * e.lead_hours.size());  // mostly finite values
}

}  // namespace gencast::testing
