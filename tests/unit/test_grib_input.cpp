// GRIB input: ERA5-style GRIB written at test time from source_tiny.nc reads
// into exactly the dataset the NetCDF reader gives (IEEE packing, so every
// value is exact) -- split or in one file, GRIB1 or GRIB2, any message order,
// -180..180 longitudes; format dispatch by content; and missing fields,
// levels, wrong grids and doubled messages give InputErrors naming the file
// and the field.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config/variables.h"
#include "core/error.h"
#include "io/grib_input.h"
#include "io/initial_conditions.h"
#include "io/netcdf_input.h"
#include "test_grib_files.h"
#include "test_input_files.h"

using namespace gencast;
using gencast::testing::Era5GribOptions;
using gencast::testing::TempDir;
using gencast::testing::tiny_fixture;
using gencast::testing::write_era5_grib;
namespace fs = std::filesystem;

namespace {

const char* kInit = "2019-03-29T12:00";  // frames 0 and 1 of source_tiny.nc

TaskConfig task() { return default_gencast_task(); }

InputDataset netcdf_input() {
  return read_input_dataset(tiny_fixture("source_tiny.nc"), task(), kInit);
}

// Bitwise-equal floats (NaN matches NaN only).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return false;
    if (!std::isnan(a[i]) && a[i] != b[i]) return false;
  }
  return true;
}

void require_same(const InputDataset& got, const InputDataset& want) {
  CHECK(got.lat == want.lat);
  CHECK(got.lon == want.lon);
  CHECK(got.levels == want.levels);
  CHECK(got.times_s == want.times_s);
  REQUIRE(got.fields.size() == want.fields.size());
  for (const auto& [name, field] : want.fields) {
    INFO(name);
    REQUIRE(got.fields.count(name) == 1);
    CHECK(got.fields.at(name).shape == field.shape);
    CHECK(same_bits(got.fields.at(name).data, field.data));
  }
}

// Every problem text of the InputError `f` throws, joined.
template <class F>
std::string input_error_text(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("no InputError");
  return "";
}

}  // namespace

TEST_CASE("ERA5 GRIB (two files, IEEE) reads to the NetCDF reader's dataset", "[grib][input]") {
  const InputDataset want = netcdf_input();
  TempDir dir;
  const auto paths = write_era5_grib(want, dir.path());
  REQUIRE(paths.size() == 2);
  const InputDataset got = read_initial_conditions(paths, task(), kInit);
  require_same(got, want);
  // Sea surface temperature keeps its land NaNs (through the GRIB bitmap).
  const auto& sst = got.field("sea_surface_temperature").data;
  CHECK(std::any_of(sst.begin(), sst.end(), [](float v) { return std::isnan(v); }));
  // The files in the other order, and init_time left to the reader, give the same.
  require_same(read_initial_conditions({paths[1], paths[0]}, task(), ""), want);
}

TEST_CASE("GRIB input variants read to the same dataset", "[grib][input]") {
  const InputDataset want = netcdf_input();
  SECTION("one file, messages in reverse order") {
    TempDir dir;
    Era5GribOptions o;
    o.split = false;
    o.reverse_messages = true;
    require_same(read_initial_conditions(write_era5_grib(want, dir.path(), o), task(), kInit), want);
  }
  SECTION("GRIB1 as CDS delivers ERA5 (2t/10u/10v/msl on the surface)") {
    TempDir dir;
    Era5GribOptions o;
    o.edition = 1;
    require_same(read_initial_conditions(write_era5_grib(want, dir.path(), o), task(), kInit), want);
  }
  SECTION("longitudes from -180 to 180") {
    TempDir dir;
    Era5GribOptions o;
    o.lon_minus_180 = true;
    require_same(read_initial_conditions(write_era5_grib(want, dir.path(), o), task(), kInit), want);
  }
  SECTION("statics only at the older frame") {
    TempDir dir;
    Era5GribOptions o;
    o.statics_once_at_first_frame = true;
    require_same(read_initial_conditions(write_era5_grib(want, dir.path(), o), task(), kInit), want);
  }
}

TEST_CASE("16-bit GRIB input is within the packing error", "[grib][input]") {
  const InputDataset want = netcdf_input();
  TempDir dir;
  Era5GribOptions o;
  o.ieee = false;
  const InputDataset got = read_initial_conditions(write_era5_grib(want, dir.path(), o), task(), kInit);
  const size_t n_grid = static_cast<size_t>(want.n_grid());
  for (const auto& [name, field] : want.fields) {
    INFO(name);
    const auto& g = got.fields.at(name).data;
    for (size_t f0 = 0; f0 < field.data.size(); f0 += n_grid) {
      float lo = INFINITY, hi = -INFINITY;
      for (size_t i = f0; i < f0 + n_grid; ++i)
        if (!std::isnan(field.data[i])) lo = std::min(lo, field.data[i]), hi = std::max(hi, field.data[i]);
      const double tol = (static_cast<double>(hi) - lo) / 65535.0 + 1e-6 * std::fabs(hi);
      for (size_t i = f0; i < f0 + n_grid; ++i) {
        REQUIRE(std::isnan(g[i]) == std::isnan(field.data[i]));
        if (!std::isnan(g[i])) REQUIRE(std::fabs(static_cast<double>(g[i]) - field.data[i]) <= tol);
      }
    }
  }
}

TEST_CASE("input format dispatch: by content, and several files must all be GRIB", "[grib][input]") {
  const InputDataset want = netcdf_input();
  TempDir dir;
  const auto paths = write_era5_grib(want, dir.path());
  CHECK(detect_input_format(paths[0]) == InputFileFormat::grib);
  CHECK(detect_input_format(tiny_fixture("source_tiny.nc")) == InputFileFormat::netcdf);
  // A GRIB file named .nc is still GRIB.
  const fs::path renamed = dir.path() / "looks_like.nc";
  fs::copy_file(paths[0], renamed);
  CHECK(detect_input_format(renamed.string()) == InputFileFormat::grib);
  const std::string text = input_error_text(
      [&] { read_initial_conditions({paths[0], tiny_fixture("source_tiny.nc")}, task(), kInit); });
  CHECK(text.find("source_tiny.nc") != std::string::npos);
  CHECK(text.find("GRIB files only") != std::string::npos);
  // The grid comes from the first message, without decoding values.
  const InputGrid grid = read_initial_grid(paths);
  CHECK(grid.lat == want.lat);
  CHECK(grid.lon == want.lon);
}

TEST_CASE("bad GRIB input names the file and the field", "[grib][input]") {
  const InputDataset good = netcdf_input();
  TempDir dir;
  Era5GribOptions o;
  std::vector<std::string> expect;
  SECTION("a missing variable") {
    o.skip_variables = {"specific_humidity", "land_sea_mask"};
    expect = {"specific_humidity (q)", "land_sea_mask (lsm)", "missing", "era5_pl.grib"};
  }
  SECTION("a missing level") {
    o.skip_level = 500;
    expect = {"temperature (t)", "no message for 500 hPa at 2019-03-29T00:00", "era5_pl.grib"};
  }
  SECTION("one field on another grid") {
    o.other_grid_variable = "2m_temperature";
    expect = {"era5_sfc.grib: 2m_temperature (2t)", "regular_ll 45 x 23", "regular_ll 90 x 46"};
  }
  SECTION("a field given twice") {
    o.duplicate_variable = "vertical_velocity";
    expect = {"vertical_velocity (w)", "one message per field and time"};
  }
  const auto paths = write_era5_grib(good, dir.path(), o);
  const std::string text = input_error_text([&] { read_initial_conditions(paths, task(), kInit); });
  for (const auto& e : expect) {
    INFO(text);
    CHECK(text.find(e) != std::string::npos);
  }
  ProblemList problems;
  check_initial_conditions(paths, task(), kInit, problems);
  CHECK_FALSE(problems.empty());
}

TEST_CASE("a GRIB grid that is not global names the file and the grid", "[grib][input]") {
  TempDir dir;
  const auto paths = write_era5_grib(netcdf_input(), dir.path());
  // The single-level file with its first latitude moved off the pole.
  const std::string out = (dir.path() / "cut.grib").string();
  {
    std::FILE* in = std::fopen(paths[1].c_str(), "rb");
    std::FILE* o = std::fopen(out.c_str(), "wb");
    while (GribHandle h = GribHandle::next_in_file(in, paths[1])) {
      h.set_double("latitudeOfFirstGridPointInDegrees", 86.0);
      const void* b = nullptr;
      size_t n = 0;
      h.message(&b, &n);
      std::fwrite(b, 1, n, o);
    }
    std::fclose(in);
    std::fclose(o);
  }
  const std::string text =
      input_error_text([&] { read_initial_conditions({out, paths[0]}, task(), kInit); });
  INFO(text);
  CHECK(text.find("cut.grib") != std::string::npos);
  CHECK(text.find("from 86 to -90") != std::string::npos);
}

TEST_CASE("a file that is not GRIB or holds no messages is an input error", "[grib][input]") {
  TempDir dir;
  const std::string empty = dir.file("empty.grib");
  std::ofstream(empty).close();
  const std::string text = input_error_text([&] { read_grib_input({empty}, task(), ""); });
  CHECK(text.find("empty.grib") != std::string::npos);
  CHECK(text.find("no GRIB messages") != std::string::npos);
  CHECK_THROWS_AS(read_grib_input({dir.file("absent.grib")}, task(), ""), InputError);
}
