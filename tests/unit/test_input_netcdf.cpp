// Input reader: source_tiny.nc is read into the normalised layout, the
// accepted layout variants (built at test time from source_tiny.nc) read to
// the same dataset, and malformed files give InputErrors naming the file and
// the variable -- all of them at once for check_input_dataset.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <numeric>

#include "config/variables.h"
#include "core/error.h"
#include "io/netcdf_input.h"
#include "test_input_files.h"

using namespace gencast;
using gencast::testing::TempDir;
using gencast::testing::TestNcFile;
using gencast::testing::TestNcVar;
using gencast::testing::tiny_fixture;

namespace {

const char* kInit = "2019-03-29T12:00";  // frames 0 and 1 of source_tiny.nc

// The fixture's own task (manifest task_config = the real gencast.TASK).
TaskConfig task() { return default_gencast_task(); }

// Bitwise-equal float vectors (NaN matches NaN).
bool same_values(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return false;
    if (!std::isnan(a[i]) && a[i] != b[i]) return false;
  }
  return true;
}

void require_same_dataset(const InputDataset& got, const InputDataset& want) {
  CHECK(got.lat == want.lat);
  CHECK(got.lon == want.lon);
  CHECK(got.levels == want.levels);
  CHECK(got.times_s == want.times_s);
  REQUIRE(got.fields.size() == want.fields.size());
  for (const auto& [name, field] : want.fields) {
    INFO(name);
    REQUIRE(got.fields.count(name) == 1);
    CHECK(got.fields.at(name).shape == field.shape);
    CHECK(same_values(got.fields.at(name).data, field.data));
  }
}

// The message of the InputError thrown by `f` ("" if none was thrown).
template <class F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Writes `file` into `dir` under `name` and returns its path.
std::string written(const TestNcFile& file, const TempDir& dir, const std::string& name) {
  const std::string path = dir.file(name);
  file.write(path);
  return path;
}

std::vector<size_t> iota_indices(size_t n) {
  std::vector<size_t> v(n);
  std::iota(v.begin(), v.end(), size_t{0});
  return v;
}

}  // namespace

TEST_CASE("source_tiny.nc reads into the normalised layout", "[data][input]") {
  const std::string path = tiny_fixture("source_tiny.nc");
  const InputDataset ds = read_input_dataset(path, task(), kInit);
  REQUIRE(ds.n_lat() == 46);
  REQUIRE(ds.n_lon() == 90);
  CHECK(ds.lat.front() == -90.0f);
  CHECK(ds.lat.back() == 90.0f);
  CHECK(ds.lon.front() == 0.0f);
  CHECK(ds.levels == task().pressure_levels);
  // 2019-03-29T00:00 and T12:00 UTC, from the file's datetime coordinate.
  REQUIRE(ds.times_s.size() == 2);
  CHECK(ds.times_s[0] == parse_iso_time("2019-03-29T00:00", "t"));
  CHECK(ds.times_s[1] - ds.times_s[0] == 12 * 3600);

  // Every input variable except the computed progress features, nothing else.
  size_t expected_fields = 0;
  for (const auto& v : task().input_variables) expected_fields += is_progress_forcing(v) ? 0 : 1;
  CHECK(ds.fields.size() == expected_fields);
  CHECK(ds.fields.count("total_precipitation_12hr") == 0);
  CHECK(ds.field("temperature").shape == Shape{2, 13, 46, 90});
  CHECK(ds.field("2m_temperature").shape == Shape{2, 46, 90});
  CHECK(ds.field("land_sea_mask").shape == Shape{46, 90});

  // Values: compare with the raw file read independently (batch 0, frames 0-1;
  // the file is already in the normalised orientation).
  NcFile file = NcFile::open_read(path);
  const std::vector<float> raw_t = nc_read_all_f32(*nc_find_var(file.id(), "temperature"));
  const std::vector<float> frames_01(raw_t.begin(), raw_t.begin() + 2 * 13 * 46 * 90);
  CHECK(same_values(ds.field("temperature").data, frames_01));
  CHECK(same_values(ds.field("geopotential_at_surface").data,
                    nc_read_all_f32(*nc_find_var(file.id(), "geopotential_at_surface"))));
  // SST keeps its land NaNs; nothing else has any.
  size_t sst_nan = 0;
  for (float v : ds.field("sea_surface_temperature").data) sst_nan += std::isnan(v) ? 1 : 0;
  CHECK(sst_nan > 0);
}

TEST_CASE("the default init time is the latest one with a frame 12 h earlier", "[data][input]") {
  const InputDataset ds = read_input_dataset(tiny_fixture("source_tiny.nc"), task(), "");
  // source_tiny.nc has 4 frames from 2019-03-29T00:00, 12 h apart: the last is usable.
  REQUIRE(ds.times_s.size() == 2);
  CHECK(format_iso_time(ds.times_s[1]) == "2019-03-30T12:00");
  CHECK(select_init_time(ds, "") == 1);
  CHECK(select_init_time(ds, "2019-03-30T12:00") == 1);
}

TEST_CASE("accepted layout variants read to the same dataset", "[data][input]") {
  const std::string source = tiny_fixture("source_tiny.nc");
  const InputDataset want = read_input_dataset(source, task(), kInit);
  const TestNcFile original = TestNcFile::load(source);
  TempDir dir;

  SECTION("no batch dimension") {
    TestNcFile f = original;
    f.drop_dim("batch");
    require_same_dataset(read_input_dataset(written(f, dir, "nobatch.nc"), task(), kInit), want);
  }
  SECTION("latitude descending") {
    TestNcFile f = original;
    std::vector<size_t> idx = iota_indices(46);
    std::reverse(idx.begin(), idx.end());
    f.select_along("lat", idx);
    require_same_dataset(read_input_dataset(written(f, dir, "latdesc.nc"), task(), kInit), want);
  }
  SECTION("longitude -180..180") {
    TestNcFile f = original;
    std::vector<size_t> idx(90);
    for (size_t i = 0; i < 90; ++i) idx[i] = (i + 45) % 90;  // starts at 180 degrees
    f.select_along("lon", idx);
    for (double& lon : f.var("lon").values)
      if (lon >= 180.0) lon -= 360.0;
    REQUIRE(f.var("lon").values.front() == -180.0);
    require_same_dataset(read_input_dataset(written(f, dir, "lon180.nc"), task(), kInit), want);
  }
  SECTION("time stored as datetime, no datetime coordinate") {
    TestNcFile f = original;
    const auto datetime = f.var("datetime");  // (batch, time), batch = 1
    f.var("time").values = datetime.values;
    f.var("time").text_attrs = datetime.text_attrs;
    f.remove_var("datetime");
    require_same_dataset(read_input_dataset(written(f, dir, "timedt.nc"), task(), kInit), want);
  }
  SECTION("WeatherBench2 style: latitude/longitude names, no batch, time as datetime") {
    TestNcFile f = original;
    f.drop_dim("batch");
    const auto datetime = f.var("datetime");
    f.var("time").values = datetime.values;
    f.var("time").text_attrs = datetime.text_attrs;
    f.remove_var("datetime");
    for (auto& [dim, size] : f.dims)
      if (dim == "lat" || dim == "lon") dim = dim == "lat" ? "latitude" : "longitude";
    for (auto& v : f.vars) {
      for (auto& d : v.dims)
        if (d == "lat" || d == "lon") d = d == "lat" ? "latitude" : "longitude";
      if (v.name == "lat" || v.name == "lon") v.name = v.name == "lat" ? "latitude" : "longitude";
    }
    require_same_dataset(read_input_dataset(written(f, dir, "wb2.nc"), task(), kInit), want);
  }
  SECTION("CF packing: int16 with scale_factor, add_offset and _FillValue") {
    TestNcFile f = original;
    TestNcVar& sst = f.var("sea_surface_temperature");
    const double scale = 0.01, offset = 280.0, fill = -32767.0;
    sst.type = NC_SHORT;
    sst.number_attrs = {{"scale_factor", scale}, {"add_offset", offset}, {"_FillValue", fill}};
    for (double& v : sst.values) v = std::isnan(v) ? fill : std::round((v - offset) / scale);
    const InputDataset got = read_input_dataset(written(f, dir, "packed.nc"), task(), kInit);
    const auto& a = got.field("sea_surface_temperature").data;
    const auto& b = want.field("sea_surface_temperature").data;
    REQUIRE(a.size() == b.size());
    size_t bad = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(a[i]) || std::isnan(b[i])) {
        bad += std::isnan(a[i]) != std::isnan(b[i]) ? 1 : 0;
        continue;
      }
      // Packing rounds to the nearest 0.01 K; allow that plus float32 rounding near 300.
      bad += std::fabs(a[i] - b[i]) <= scale / 2 + 1e-4 ? 0 : 1;
    }
    CHECK(bad == 0);
  }
  SECTION("extra levels, extra variables, other dim orders") {
    TestNcFile f = original;
    // Insert 975 hPa (a copy of 925) between 925 and 1000: must be ignored.
    std::vector<size_t> idx = iota_indices(13);
    idx.insert(idx.begin() + 12, 11);
    f.select_along("level", idx);
    f.var("level").values[12] = 975;
    f.transpose_var("2m_temperature", {"time", "batch", "lon", "lat"});
    f.transpose_var("land_sea_mask", {"lon", "lat"});
    auto extra = f.var("total_precipitation_12hr");
    extra.name = "toa_incident_solar_radiation";
    f.vars.push_back(extra);
    require_same_dataset(read_input_dataset(written(f, dir, "extras.nc"), task(), kInit), want);
  }
}

TEST_CASE("malformed inputs name the file and the variable", "[data][input]") {
  const std::string source = tiny_fixture("source_tiny.nc");
  const TestNcFile original = TestNcFile::load(source);
  TempDir dir;

  SECTION("missing input variable") {
    TestNcFile f = original;
    f.remove_var("temperature");
    const std::string path = written(f, dir, "missing_var.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": temperature:"));
    CHECK(has(msg, "missing"));
  }
  SECTION("12 levels, 500 hPa missing") {
    TestNcFile f = original;
    std::vector<size_t> idx = iota_indices(13);
    idx.erase(idx.begin() + 7);  // level index 7 = 500 hPa
    f.select_along("level", idx);
    const std::string path = written(f, dir, "levels.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": level:"));
    CHECK(has(msg, "missing 500"));
    CHECK(has(msg, "found 12 levels"));
  }
  SECTION("non-monotonic latitude") {
    TestNcFile f = original;
    std::swap(f.var("lat").values[10], f.var("lat").values[11]);
    const std::string path = written(f, dir, "lat.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": lat:"));
    CHECK(has(msg, "non-monotonic"));
  }
  SECTION("n_lon != 2 (n_lat - 1)") {
    TestNcFile f = original;
    f.select_along("lon", iota_indices(89));
    const std::string path = written(f, dir, "nlon.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": lon:"));
    CHECK(has(msg, "n_lon = 2 * (n_lat - 1) = 90"));
    CHECK(has(msg, "found 89 longitudes"));
  }
  SECTION("latitude not from pole to pole") {
    TestNcFile f = original;
    f.select_along("lat", iota_indices(45));  // -90..86: no north pole
    f.select_along("lon", iota_indices(88));
    const std::string path = written(f, dir, "nopole.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": lat: expected latitudes from -90 to 90"));
  }
  SECTION("missing datetime") {
    TestNcFile f = original;
    f.remove_var("datetime");
    const std::string path = written(f, dir, "nodt.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": datetime:"));
    CHECK(has(msg, "missing"));
  }
  SECTION("NaN outside SST: names the variable and the count") {
    TestNcFile f = original;
    auto& t2m = f.var("2m_temperature").values;  // (batch, time, lat, lon)
    for (size_t i = 0; i < 5; ++i) t2m[46 * 90 + 100 + i] = std::nan("");  // frame 1
    t2m[3 * 46 * 90 + 7] = std::nan("");  // frame 3: not an input frame, ignored
    const std::string path = written(f, dir, "nan.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": 2m_temperature:"));
    CHECK(has(msg, "5 NaN value(s)"));
  }
  SECTION("datetime without a reference date, or with a non-Gregorian calendar") {
    TestNcFile f = original;
    f.var("datetime").text_attrs["units"] = "hours";
    const std::string path = written(f, dir, "dtunits.nc");
    CHECK(has(input_error_of([&] { read_input_dataset(path, task(), kInit); }),
              path + ": datetime:units: expected CF datetime units"));
    f.var("datetime").text_attrs["units"] = "hours since 2019-03-29 00:00:00";
    f.var("datetime").text_attrs["calendar"] = "noleap";
    const std::string path2 = written(f, dir, "noleap.nc");
    CHECK(has(input_error_of([&] { read_input_dataset(path2, task(), kInit); }),
              path2 + ": datetime:calendar:"));
  }
  SECTION("wrong dims") {
    TestNcFile f = original;
    f.var("mean_sea_level_pressure").dims = {"batch", "time", "level", "lat"};  // same count, wrong dims
    f.var("mean_sea_level_pressure").values.resize(1 * 4 * 13 * 46);
    const std::string path = written(f, dir, "dims.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": mean_sea_level_pressure: expected dims ([batch], time, lat, lon)"));
  }
  SECTION("init_time not in the file") {
    const std::string msg =
        input_error_of([&] { read_input_dataset(source, task(), "2019-03-31T00:00"); });
    CHECK(has(msg, source + ": time: expected a frame at init_time 2019-03-31T00:00"));
  }
  SECTION("no frame 12 h before init_time") {
    const std::string msg =
        input_error_of([&] { read_input_dataset(source, task(), "2019-03-29T00:00"); });
    CHECK(has(msg, source + ": time: expected a frame at 2019-03-28T12:00"));
  }
  SECTION("frames not 12 h apart") {
    TestNcFile f = original;
    auto& dt = f.var("datetime").values;  // hours since 2019-03-29
    for (size_t i = 0; i < dt.size(); ++i) dt[i] = 7.0 * static_cast<double>(i);  // 0, 7, 14, 21 h
    const std::string path = written(f, dir, "sevenhourly.nc");
    CHECK(has(input_error_of([&] { read_input_dataset(path, task(), ""); }),
              path + ": time: expected at least 2 frames 12 h apart"));
    CHECK(has(input_error_of([&] { read_input_dataset(path, task(), "2019-03-29T14:00"); }),
              path + ": time: expected a frame at 2019-03-29T02:00"));
  }
  SECTION("malformed init_time") {
    const std::string msg = input_error_of([&] { read_input_dataset(source, task(), "tomorrow"); });
    CHECK(has(msg, "init_time: expected an ISO-8601 UTC time"));
  }
  SECTION("nonexistent file") {
    const std::string path = dir.file("nope.nc");
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": expected an existing NetCDF file, found no such file"));
  }
  SECTION("not a NetCDF file") {
    const std::string path = dir.file("text.nc");
    std::ofstream(path) << "this is not netcdf\n";
    const std::string msg = input_error_of([&] { read_input_dataset(path, task(), kInit); });
    CHECK(has(msg, path + ": expected a NetCDF file"));
    CHECK(has(msg, "not a NetCDF file"));
  }
}

TEST_CASE("check_input_dataset collects every problem", "[data][input]") {
  TestNcFile f = TestNcFile::load(tiny_fixture("source_tiny.nc"));
  f.remove_var("temperature");
  f.remove_var("land_sea_mask");
  f.var("10m_u_component_of_wind").values[46 * 90 + 3] = std::nan("");
  std::vector<size_t> idx = iota_indices(13);
  idx.pop_back();  // drop 1000 hPa
  f.select_along("level", idx);
  TempDir dir;
  const std::string path = dir.file("many.nc");
  f.write(path);

  ProblemList problems;
  check_input_dataset(path, task(), kInit, problems);
  std::string all;
  for (const auto& p : problems.problems()) {
    CHECK(p.file == path);
    all += p.field + "\n";
  }
  INFO(all);
  CHECK(has(all, "temperature\n"));
  CHECK(has(all, "land_sea_mask\n"));
  CHECK(has(all, "level\n"));
  // The data checks need a valid level set, so the NaN is reported once the
  // levels are fixed; here the three structural problems must all be present.
  CHECK(problems.size() >= 3);

  // And read_input_dataset throws them all in one InputError.
  try {
    read_input_dataset(path, task(), kInit);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(e.problems().size() == problems.size());
  }
}

TEST_CASE("check_input_dataset reports data problems alongside structural ones", "[data][input]") {
  TestNcFile f = TestNcFile::load(tiny_fixture("source_tiny.nc"));
  f.remove_var("land_sea_mask");
  f.var("10m_u_component_of_wind").values[46 * 90 + 3] = std::nan("");
  f.var("specific_humidity").values[46 * 90 * 13 + 1] = std::nan("");
  TempDir dir;
  const std::string path = dir.file("data.nc");
  f.write(path);
  ProblemList problems;
  check_input_dataset(path, task(), kInit, problems);
  REQUIRE(problems.size() == 3);
  std::vector<std::string> fields;
  for (const auto& p : problems.problems()) fields.push_back(p.field);
  CHECK(std::count(fields.begin(), fields.end(), "land_sea_mask") == 1);
  CHECK(std::count(fields.begin(), fields.end(), "10m_u_component_of_wind") == 1);
  CHECK(std::count(fields.begin(), fields.end(), "specific_humidity") == 1);
}
