// ForecastReader: files written by NetcdfForecastWriter read back bit-exactly
// (both layouts, renamed member dim, variable subsets, NaN land cells), the
// structure comes back as a ForecastOutputSpec a writer accepts, and files
// not written by gencast-run are refused naming the file.
#include <netcdf.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>

#include "core/error.h"
#include "io/forecast_reader.h"
#include "io/netcdf_forecast_writer.h"
#include "test_temp_dir.h"

using namespace gencast;
using gencast::testing::TempDir;

namespace {

ForecastOutputSpec reader_spec(const std::string& path, OutputLayout layout) {
  ForecastOutputSpec s;
  s.path = path;
  s.layout = layout;
  for (int i = 0; i < 7; ++i) s.lat.push_back(-90.0f + 30.0f * static_cast<float>(i));
  for (int i = 0; i < 12; ++i) s.lon.push_back(30.0f * static_cast<float>(i));
  s.levels = {500, 850, 1000};
  s.init_time_s = 1553860800;  // 2019-03-29T12:00:00Z
  s.lead_hours = {12, 24};
  s.member_ids = {4, 9, 11};
  s.channels = {{"2m_temperature", 0, -1},
                {"sea_surface_temperature", 0, -1},
                {"temperature", 0, 0},
                {"temperature", 0, 1},
                {"temperature", 0, 2}};
  s.run_fingerprint = "0123456789abcdef";
  s.run_identity = "seed: 5\nsteps: 2\n";
  return s;
}

// [n_grid, channels] random values; SST (channel 1) NaN on every third cell.
std::vector<float> random_step(const ForecastOutputSpec& s, std::mt19937& rng) {
  const size_t n_grid = s.lat.size() * s.lon.size(), c = s.channels.size();
  std::uniform_real_distribution<float> u(-300.0f, 300.0f);
  std::vector<float> v(n_grid * c);
  for (auto& x : v) x = u(rng);
  for (size_t g = 0; g < n_grid; g += 3) v[g * c + 1] = std::numeric_limits<float>::quiet_NaN();
  return v;
}

bool same_bits_or_both_nan(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

TEST_CASE("forecast reader: both layouts read back bit-exactly with their structure",
          "[forecast_reader]") {
  for (OutputLayout layout : {OutputLayout::predictions, OutputLayout::wb2}) {
    TempDir dir;
    const std::string path = (dir.path() / "f.nc").string();
    ForecastOutputSpec spec = reader_spec(path, layout);
    if (layout == OutputLayout::predictions) spec.ensemble_dim = "ens";
    std::mt19937 rng(layout == OutputLayout::wb2 ? 17u : 3u);
    std::vector<std::vector<float>> steps;
    {
      NetcdfForecastWriter writer(spec);
      for (int m = 0; m < 3; ++m)
        for (int l = 1; l >= 0; --l) {  // any order
          steps.push_back(random_step(spec, rng));
          writer.write_step(m, l, steps.back().data());
        }
      writer.close();
    }
    const ForecastReader reader(path);
    const ForecastOutputSpec& got = reader.info().spec;
    CHECK(got.layout == layout);
    CHECK(got.ensemble_dim == (layout == OutputLayout::predictions ? "ens" : "number"));
    CHECK(got.member_ids == spec.member_ids);
    CHECK(got.lead_hours == spec.lead_hours);
    CHECK(got.levels == spec.levels);
    CHECK(got.lat == spec.lat);
    CHECK(got.lon == spec.lon);
    CHECK(got.init_time_s == spec.init_time_s);
    CHECK(got.channels == spec.channels);
    CHECK(got.run_fingerprint == spec.run_fingerprint);
    CHECK(got.run_identity == spec.run_identity);
    std::vector<float> back(steps[0].size());
    size_t k = 0;
    for (int m = 0; m < 3; ++m)
      for (int l = 1; l >= 0; --l, ++k) {
        reader.read_step(m, l, back.data());
        for (size_t i = 0; i < back.size(); ++i)
          REQUIRE(same_bits_or_both_nan(back[i], steps[k][i]));
      }
    CHECK_THROWS_AS(reader.read_step(3, 0, back.data()), std::out_of_range);
  }
}

TEST_CASE("forecast reader: a variable subset comes back as the file's channels",
          "[forecast_reader]") {
  TempDir dir;
  const std::string path = (dir.path() / "f.nc").string();
  ForecastOutputSpec spec = reader_spec(path, OutputLayout::predictions);
  spec.variables = {"temperature"};
  std::mt19937 rng(5);
  const std::vector<float> step = random_step(spec, rng);
  {
    NetcdfForecastWriter writer(spec);
    for (int m = 0; m < 3; ++m)
      for (int l = 0; l < 2; ++l) writer.write_step(m, l, step.data());
    writer.close();
  }
  const ForecastReader reader(path);
  const auto& channels = reader.info().spec.channels;
  REQUIRE(channels.size() == 3);
  std::vector<float> back(7 * 12 * 3);
  reader.read_step(2, 1, back.data());
  for (size_t g = 0; g < 7 * 12; ++g)
    for (size_t c = 0; c < 3; ++c) REQUIRE(back[g * 3 + c] == step[g * 5 + 2 + c]);
}

TEST_CASE("forecast reader: files not written by gencast-run are refused naming the file",
          "[forecast_reader]") {
  TempDir dir;
  const std::string path = (dir.path() / "other.nc").string();
  int ncid = 0;
  REQUIRE(nc_create(path.c_str(), NC_NETCDF4, &ncid) == NC_NOERR);
  REQUIRE(nc_close(ncid) == NC_NOERR);
  try {
    ForecastReader reader(path);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains(path));
    CHECK_THAT(e.what(), Catch::Contains("gencast_output_layout"));
  }
  CHECK_THROWS_AS(ForecastReader((dir.path() / "missing.nc").string()), InputError);
}

TEST_CASE("forecast reader: the zlib level and the BitRound bits come back", "[forecast_reader]") {
  for (int64_t level : {0, 1, 4}) {
    TempDir dir;
    const std::string path = (dir.path() / "f.nc").string();
    ForecastOutputSpec spec = reader_spec(path, OutputLayout::predictions);
    spec.compression = level;
    spec.keep_bits = level * 3;  // 0 = lossless
    std::mt19937 rng(static_cast<unsigned>(level) + 1);
    const std::vector<float> step = random_step(spec, rng);
    {
      NetcdfForecastWriter writer(spec);
      for (int m = 0; m < 3; ++m)
        for (int l = 0; l < 2; ++l) writer.write_step(m, l, step.data());
      writer.close();
    }
    CHECK(ForecastReader(path).info().spec.compression == level);
    CHECK(ForecastReader(path).info().spec.keep_bits == level * 3);
  }
}
