// NetcdfForecastWriter: files read back with the netCDF C API (dims, coordinates,
// attributes, bit-exact values, compression), variable subsets, the
// atomicity contract (no final file unless close() succeeded), BitRound,
// sizes against netCDF's own zlib path, flush() and write failures.
#include <fcntl.h>
#include <hdf5.h>
#include <netcdf.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include "test_temp_dir.h"
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/chunk_codec.h"
#include "io/netcdf_forecast_writer.h"

using namespace gencast;
using gencast::testing::TempDir;
namespace fs = std::filesystem;

namespace {


const std::vector<std::string> kSurface = {"10m_u_component_of_wind", "10m_v_component_of_wind",
                                           "2m_temperature",          "mean_sea_level_pressure",
                                           "sea_surface_temperature", "total_precipitation_12hr"};
const std::vector<std::string> kAtmospheric = {"geopotential",        "specific_humidity",
                                               "temperature",         "u_component_of_wind",
                                               "v_component_of_wind", "vertical_velocity"};
const std::vector<int64_t> kLevels = {50,  100, 150, 200, 250, 300, 400,
                                      500, 600, 700, 850, 925, 1000};

// The 84 target channels in the model's order: variables sorted by name, levels within.
std::vector<ChannelSlot> target_channels() {
  std::vector<std::string> names = kSurface;
  names.insert(names.end(), kAtmospheric.begin(), kAtmospheric.end());
  std::sort(names.begin(), names.end());
  std::vector<ChannelSlot> out;
  for (const auto& name : names) {
    if (std::find(kAtmospheric.begin(), kAtmospheric.end(), name) != kAtmospheric.end()) {
      for (int k = 0; k < static_cast<int>(kLevels.size()); ++k) out.push_back({name, 0, k});
    } else {
      out.push_back({name, 0, -1});
    }
  }
  return out;
}

// A 4-degree forecast: 2 members (ids 3 and 7, to tell ids from indices), 3 lead times.
ForecastOutputSpec small_spec(const fs::path& file) {
  ForecastOutputSpec spec;
  spec.path = file.string();
  for (int i = 0; i < 46; ++i) spec.lat.push_back(-90.0f + 4.0f * static_cast<float>(i));
  for (int i = 0; i < 90; ++i) spec.lon.push_back(4.0f * static_cast<float>(i));
  spec.levels = kLevels;
  spec.init_time_s = 1553860800;  // 2019-03-29T12:00:00Z
  spec.lead_hours = {12, 24, 36};
  spec.member_ids = {3, 7};
  spec.channels = target_channels();
  spec.model_description = "tiny test model";
  spec.model_license = "CC BY 4.0 (test)";
  spec.run_spec_yaml = "output:\n  path: forecast.nc\n";
  spec.command_line = "gencast-run forecast test.yaml";
  return spec;
}

// Random fields [member][lead] -> [n_grid, 84]; SST is NaN on a fixed "land" mask.
struct Fields {
  size_t n_grid = 0, n_channels = 0;
  std::vector<std::vector<float>> data;  // index member * n_leads + lead
  std::vector<unsigned char> land;
};

Fields random_fields(const ForecastOutputSpec& spec, unsigned seed) {
  Fields f;
  f.n_grid = spec.lat.size() * spec.lon.size();
  f.n_channels = spec.channels.size();
  f.land.resize(f.n_grid);
  for (size_t g = 0; g < f.n_grid; ++g) {
    const double lat = spec.lat[g / spec.lon.size()] * std::numbers::pi / 180.0;
    const double lon = spec.lon[g % spec.lon.size()] * std::numbers::pi / 180.0;
    f.land[g] = std::sin(2.0 * lat) * std::cos(lon) > 0.3 ? 1 : 0;
  }
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t n_steps = spec.member_ids.size() * spec.lead_hours.size();
  for (size_t s = 0; s < n_steps; ++s) {
    std::vector<float> step(f.n_grid * f.n_channels);
    for (auto& v : step) v = normal(rng);
    for (size_t c = 0; c < f.n_channels; ++c) {
      if (spec.channels[c].variable != "sea_surface_temperature") continue;
      for (size_t g = 0; g < f.n_grid; ++g) {
        if (f.land[g]) step[g * f.n_channels + c] = std::numeric_limits<float>::quiet_NaN();
      }
    }
    f.data.push_back(std::move(step));
  }
  return f;
}

// Writes every (member, lead) in a scrambled order: lead-major, members reversed.
void write_all(NetcdfForecastWriter& writer, const ForecastOutputSpec& spec, const Fields& f) {
  const int n_members = static_cast<int>(spec.member_ids.size());
  const int n_leads = static_cast<int>(spec.lead_hours.size());
  for (int l = n_leads - 1; l >= 0; --l) {
    for (int m = n_members - 1; m >= 0; --m) {
      writer.write_step(m, l, f.data[static_cast<size_t>(m * n_leads + l)].data());
    }
  }
}

// --- netCDF C API read-back helpers -----------------------------------------

struct NcFile {
  int id = -1;
  explicit NcFile(const fs::path& p) { REQUIRE(nc_open(p.c_str(), NC_NOWRITE, &id) == NC_NOERR); }
  ~NcFile() { nc_close(id); }

  int var(const std::string& name) const {
    int v = -1;
    INFO("variable " << name);
    REQUIRE(nc_inq_varid(id, name.c_str(), &v) == NC_NOERR);
    return v;
  }
  bool has_var(const std::string& name) const {
    int v = -1;
    return nc_inq_varid(id, name.c_str(), &v) == NC_NOERR;
  }
  bool has_dim(const std::string& name) const {
    int d = -1;
    return nc_inq_dimid(id, name.c_str(), &d) == NC_NOERR;
  }
  size_t dim_len(const std::string& name) const {
    int d = -1;
    INFO("dimension " << name);
    REQUIRE(nc_inq_dimid(id, name.c_str(), &d) == NC_NOERR);
    size_t len = 0;
    REQUIRE(nc_inq_dimlen(id, d, &len) == NC_NOERR);
    return len;
  }
  std::vector<std::string> var_dims(const std::string& name) const {
    const int v = var(name);
    int ndims = 0;
    REQUIRE(nc_inq_varndims(id, v, &ndims) == NC_NOERR);
    std::vector<int> ids(static_cast<size_t>(ndims));
    REQUIRE(nc_inq_vardimid(id, v, ids.data()) == NC_NOERR);
    std::vector<std::string> out;
    for (int d : ids) {
      char buf[NC_MAX_NAME + 1];
      REQUIRE(nc_inq_dimname(id, d, buf) == NC_NOERR);
      out.emplace_back(buf);
    }
    return out;
  }
  std::string text_att(const std::string& var_name, const std::string& att) const {
    const int v = var_name.empty() ? NC_GLOBAL : var(var_name);
    size_t len = 0;
    INFO("attribute " << var_name << ":" << att);
    REQUIRE(nc_inq_attlen(id, v, att.c_str(), &len) == NC_NOERR);
    std::string out(len, '\0');
    REQUIRE(nc_get_att_text(id, v, att.c_str(), out.data()) == NC_NOERR);
    return out;
  }
  bool has_att(const std::string& var_name, const std::string& att) const {
    size_t len = 0;
    return nc_inq_attlen(id, var_name.empty() ? NC_GLOBAL : var(var_name), att.c_str(), &len) ==
           NC_NOERR;
  }
  std::vector<float> floats(const std::string& name) const {
    const int v = var(name);
    size_t n = 1;
    for (const auto& d : var_dims(name)) n *= dim_len(d);
    std::vector<float> out(n);
    REQUIRE(nc_get_var_float(id, v, out.data()) == NC_NOERR);
    return out;
  }
  std::vector<long long> int64s(const std::string& name) const {
    const int v = var(name);
    size_t n = 1;
    for (const auto& d : var_dims(name)) n *= dim_len(d);
    std::vector<long long> out(n);
    REQUIRE(nc_get_var_longlong(id, v, out.data()) == NC_NOERR);
    return out;
  }
  std::vector<std::string> var_names() const {
    int n = 0;
    REQUIRE(nc_inq_nvars(id, &n) == NC_NOERR);
    std::vector<std::string> out;
    for (int v = 0; v < n; ++v) {
      char buf[NC_MAX_NAME + 1];
      REQUIRE(nc_inq_varname(id, v, buf) == NC_NOERR);
      out.emplace_back(buf);
    }
    return out;
  }
};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Checks every stored value of `name` against the field it came from, bit for bit.
// wb2: the file uses the wb2 axis order (init, lead, member) instead of (member, batch, lead).
void check_values(const NcFile& nc, const ForecastOutputSpec& spec, const Fields& f,
                  const std::string& name, bool wb2) {
  const auto stored = nc.floats(name);
  const size_t n_members = spec.member_ids.size(), n_leads = spec.lead_hours.size();
  const bool levels =
      std::find(kAtmospheric.begin(), kAtmospheric.end(), name) != kAtmospheric.end();
  const size_t n_levels = levels ? spec.levels.size() : 1;
  REQUIRE(stored.size() == n_members * n_leads * n_levels * f.n_grid);
  size_t mismatches = 0;
  for (size_t m = 0; m < n_members; ++m) {
    for (size_t l = 0; l < n_leads; ++l) {
      // predictions: (member, batch, lead, ...); wb2: (init, lead, member, ...)
      const size_t outer = wb2 ? l * n_members + m : m * n_leads + l;
      for (size_t k = 0; k < n_levels; ++k) {
        size_t channel = 0;
        while (!(spec.channels[channel].variable == name &&
                 spec.channels[channel].level == (levels ? static_cast<int>(k) : -1))) {
          ++channel;
        }
        const auto& src = f.data[m * n_leads + l];
        for (size_t g = 0; g < f.n_grid; ++g) {
          const float want = src[g * f.n_channels + channel];
          const float got = stored[(outer * n_levels + k) * f.n_grid + g];
          if (!same_bits(want, got)) ++mismatches;
        }
      }
    }
  }
  INFO("variable " << name);
  CHECK(mismatches == 0);
}

void check_compression(const NcFile& nc, const std::string& name, int level,
                       const std::vector<size_t>& chunks) {
  int shuffle = -1, deflate = -1, deflate_level = -1;
  REQUIRE(nc_inq_var_deflate(nc.id, nc.var(name), &shuffle, &deflate, &deflate_level) == NC_NOERR);
  INFO("variable " << name);
  CHECK(deflate == (level > 0 ? 1 : 0));
  if (level > 0) {
    CHECK(shuffle == 1);
    CHECK(deflate_level == level);
  }
  int storage = -1;
  std::vector<size_t> got(chunks.size());
  REQUIRE(nc_inq_var_chunking(nc.id, nc.var(name), &storage, got.data()) == NC_NOERR);
  CHECK(storage == NC_CHUNKED);
  CHECK(got == chunks);
}

}  // namespace

TEST_CASE("output: predictions layout round-trips with CF metadata", "[output]") {
  TempDir dir;
  const fs::path file = dir.path() / "forecast.nc";
  const auto spec = small_spec(file);
  const auto fields = random_fields(spec, 1);
  {
    NetcdfForecastWriter writer(spec);
    write_all(writer, spec, fields);
    writer.close();
  }
  REQUIRE(dir.entries() == std::vector<std::string>{"forecast.nc"});
  NcFile nc(file);

  CHECK(nc.dim_len("sample") == 2);
  CHECK(nc.dim_len("batch") == 1);
  CHECK(nc.dim_len("time") == 3);
  CHECK(nc.dim_len("level") == 13);
  CHECK(nc.dim_len("lat") == 46);
  CHECK(nc.dim_len("lon") == 90);
  CHECK(nc.var_dims("2m_temperature") ==
        std::vector<std::string>{"sample", "batch", "time", "lat", "lon"});
  CHECK(nc.var_dims("temperature") ==
        std::vector<std::string>{"sample", "batch", "time", "level", "lat", "lon"});
  CHECK(nc.var_dims("datetime") == std::vector<std::string>{"batch", "time"});
  CHECK(nc.var_dims("forecast_reference_time").empty());

  // Coordinates carry the spec's values; times are exact hours since init.
  CHECK(nc.int64s("sample") == std::vector<long long>{3, 7});
  CHECK(nc.int64s("time") == std::vector<long long>{12, 24, 36});
  CHECK(nc.text_att("time", "units") == "hours");
  CHECK(nc.text_att("time", "standard_name") == "forecast_period");
  CHECK(nc.int64s("datetime") == std::vector<long long>{12, 24, 36});
  CHECK(nc.text_att("datetime", "units") == "hours since 2019-03-29 12:00:00");
  CHECK(nc.text_att("datetime", "calendar") == "proleptic_gregorian");
  CHECK(nc.int64s("forecast_reference_time") == std::vector<long long>{0});
  CHECK(nc.text_att("forecast_reference_time", "standard_name") == "forecast_reference_time");
  CHECK(nc.text_att("forecast_reference_time", "units") == "hours since 2019-03-29 12:00:00");
  CHECK(nc.int64s("level") == std::vector<long long>(kLevels.begin(), kLevels.end()));
  CHECK(nc.text_att("level", "units") == "hPa");
  CHECK(nc.floats("lat") == spec.lat);
  CHECK(nc.floats("lon") == spec.lon);
  CHECK(nc.text_att("lat", "standard_name") == "latitude");
  CHECK(nc.text_att("lat", "units") == "degrees_north");
  CHECK(nc.text_att("lat", "axis") == "Y");
  CHECK(nc.text_att("lon", "standard_name") == "longitude");
  CHECK(nc.text_att("lon", "units") == "degrees_east");
  CHECK(nc.text_att("lon", "axis") == "X");
  CHECK(nc.text_att("sample", "standard_name") == "realization");

  // Variable attributes (units per ERA5, standard names per CF).
  CHECK(nc.text_att("2m_temperature", "units") == "K");
  CHECK(nc.text_att("2m_temperature", "standard_name") == "air_temperature");
  CHECK(nc.text_att("mean_sea_level_pressure", "standard_name") ==
        "air_pressure_at_mean_sea_level");
  CHECK(nc.text_att("total_precipitation_12hr", "units") == "m");
  CHECK(nc.text_att("total_precipitation_12hr", "long_name") == "Total precipitation over 12 h");
  CHECK(nc.text_att("vertical_velocity", "units") == "Pa s-1");
  CHECK(nc.text_att("vertical_velocity", "standard_name") == "lagrangian_tendency_of_air_pressure");
  CHECK(nc.text_att("geopotential", "units") == "m2 s-2");
  CHECK(nc.text_att("specific_humidity", "standard_name") == "specific_humidity");
  CHECK(nc.text_att("temperature", "coordinates") == "datetime forecast_reference_time");
  float fill = 0.0f;
  REQUIRE(nc_get_att_float(nc.id, nc.var("sea_surface_temperature"), "_FillValue", &fill) ==
          NC_NOERR);
  CHECK(std::isnan(fill));

  // Global attributes.
  CHECK(nc.text_att("", "Conventions") == "CF-1.8");
  CHECK(nc.text_att("", "source").rfind("gencast-run ", 0) == 0);
  CHECK(nc.text_att("", "model_description") == spec.model_description);
  CHECK(nc.text_att("", "model_license") == spec.model_license);
  CHECK(nc.text_att("", "run_spec") == spec.run_spec_yaml);
  CHECK(nc.text_att("", "history").find(spec.command_line) != std::string::npos);
  CHECK_FALSE(nc.has_att("", "institution"));

  // Every target variable, every value, bit for bit (NaNs included).
  std::vector<std::string> all = kSurface;
  all.insert(all.end(), kAtmospheric.begin(), kAtmospheric.end());
  for (const auto& name : all) check_values(nc, spec, fields, name, false);
  check_compression(nc, "temperature", 1, {1, 1, 1, 1, 46, 90});
  check_compression(nc, "2m_temperature", 1, {1, 1, 1, 46, 90});
}

TEST_CASE("output: wb2 layout round-trips", "[output]") {
  TempDir dir;
  const fs::path file = dir.path() / "wb2.nc";
  auto spec = small_spec(file);
  spec.layout = OutputLayout::wb2;
  spec.compression = 0;
  const auto fields = random_fields(spec, 2);
  {
    NetcdfForecastWriter writer(spec);
    write_all(writer, spec, fields);
    writer.close();
  }
  NcFile nc(file);
  CHECK(nc.dim_len("time") == 1);
  CHECK(nc.dim_len("prediction_timedelta") == 3);
  CHECK(nc.dim_len("number") == 2);
  CHECK(nc.dim_len("latitude") == 46);
  CHECK(nc.dim_len("longitude") == 90);
  CHECK_FALSE(nc.has_dim("sample"));
  CHECK_FALSE(nc.has_var("datetime"));
  CHECK(nc.var_dims("temperature") == std::vector<std::string>{"time", "prediction_timedelta",
                                                               "number", "level", "latitude",
                                                               "longitude"});
  CHECK(nc.var_dims("2m_temperature") == std::vector<std::string>{"time", "prediction_timedelta",
                                                                  "number", "latitude",
                                                                  "longitude"});
  CHECK(nc.int64s("time") == std::vector<long long>{0});
  CHECK(nc.text_att("time", "units") == "hours since 2019-03-29 12:00:00");
  CHECK(nc.text_att("time", "standard_name") == "forecast_reference_time");
  CHECK(nc.int64s("prediction_timedelta") == std::vector<long long>{12, 24, 36});
  CHECK(nc.text_att("prediction_timedelta", "units") == "hours");
  CHECK(nc.int64s("number") == std::vector<long long>{3, 7});
  CHECK(nc.text_att("number", "standard_name") == "realization");
  CHECK(nc.text_att("latitude", "standard_name") == "latitude");
  CHECK(nc.floats("latitude") == spec.lat);
  for (const auto& name : {"temperature", "sea_surface_temperature", "total_precipitation_12hr"}) {
    check_values(nc, spec, fields, name, true);
  }
  check_compression(nc, "temperature", 0, {1, 1, 1, 1, 46, 90});
}

TEST_CASE("output: ensemble_dim renames the member dimension", "[output]") {
  TempDir dir;
  auto spec = small_spec(dir.path() / "f.nc");
  spec.ensemble_dim = "member";
  spec.member_ids = {0, 4000000000};  // ids are 32-bit unsigned in the run spec
  spec.compression = 5;
  const auto fields = random_fields(spec, 3);
  {
    NetcdfForecastWriter writer(spec);
    write_all(writer, spec, fields);
    writer.close();
  }
  NcFile nc(dir.path() / "f.nc");
  CHECK(nc.dim_len("member") == 2);
  CHECK_FALSE(nc.has_dim("sample"));
  CHECK(nc.text_att("member", "standard_name") == "realization");
  CHECK(nc.int64s("member") == std::vector<long long>{0, 4000000000});
  check_compression(nc, "vertical_velocity", 5, {1, 1, 1, 1, 46, 90});
  check_values(nc, spec, fields, "vertical_velocity", false);
}

TEST_CASE("output: a variables subset writes only those variables", "[output]") {
  TempDir dir;
  auto spec = small_spec(dir.path() / "subset.nc");
  spec.variables = {"sea_surface_temperature", "2m_temperature"};
  const auto fields = random_fields(spec, 4);
  {
    NetcdfForecastWriter writer(spec);
    CHECK(writer.variables() ==
          std::vector<std::string>{"2m_temperature", "sea_surface_temperature"});
    write_all(writer, spec, fields);
    writer.close();
  }
  NcFile nc(dir.path() / "subset.nc");
  std::vector<std::string> data_vars;
  for (const auto& name : nc.var_names()) {
    if (nc.var_dims(name).size() >= 4) data_vars.push_back(name);
  }
  CHECK(data_vars == std::vector<std::string>{"2m_temperature", "sea_surface_temperature"});
  CHECK_FALSE(nc.has_dim("level"));  // no atmospheric variable selected
  check_values(nc, spec, fields, "2m_temperature", false);
  check_values(nc, spec, fields, "sea_surface_temperature", false);
}

TEST_CASE("output: unknown variables and bad options are input errors", "[output]") {
  TempDir dir;
  auto spec = small_spec(dir.path() / "f.nc");
  spec.variables = {"2m_temperature", "2m_temprature"};
  try {
    NetcdfForecastWriter writer(spec);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("output.variables") != std::string::npos);
    CHECK(msg.find("'2m_temprature'") != std::string::npos);
    CHECK(msg.find("total_precipitation_12hr") != std::string::npos);  // lists valid names
  }
  spec.variables.clear();
  spec.compression = 10;
  spec.ensemble_dim = "lat";  // clashes with the predictions layout's latitude
  try {
    NetcdfForecastWriter writer(spec);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    REQUIRE(e.problems().size() == 2);
    CHECK(e.problems()[0].field == "output.compression");
    CHECK(e.problems()[1].field == "output.ensemble_dim");
  }
  CHECK(dir.entries().empty());
}

TEST_CASE("output: close() with a missing step fails and leaves no file", "[output]") {
  TempDir dir;
  const auto spec = small_spec(dir.path() / "f.nc");
  const auto fields = random_fields(spec, 5);
  NetcdfForecastWriter writer(spec);
  writer.write_step(0, 0, fields.data[0].data());
  writer.write_step(1, 0, fields.data[3].data());
  writer.write_step(0, 1, fields.data[1].data());
  try {
    writer.close();
    FAIL("expected a RuntimeFailure");
  } catch (const RuntimeFailure& e) {
    const std::string msg = e.what();
    CHECK(msg.find("3 of 6") != std::string::npos);
    CHECK(msg.find("member 3 at +36 h") != std::string::npos);
  }
  CHECK(dir.entries().empty());
}

TEST_CASE("output: the final file exists only after close()", "[output]") {
  TempDir dir;
  const auto spec = small_spec(dir.path() / "f.nc");
  const auto fields = random_fields(spec, 6);
  {
    NetcdfForecastWriter writer(spec);
    write_all(writer, spec, fields);
    // Everything written but not closed: only the temporary name exists.
    const auto entries = dir.entries();
    REQUIRE(entries.size() == 1);
    CHECK(entries[0] == "f.nc.partial");  // a fixed name: --resume finds it
    CHECK(fs::path(writer.temp_path()).filename() == entries[0]);
  }  // destroyed without close(), as when an exception unwinds the run
  CHECK(dir.entries().empty());

  // A failing write (programming error) also unwinds without leaving a file.
  try {
    NetcdfForecastWriter writer(spec);
    writer.write_step(0, 0, fields.data[0].data());
    writer.write_step(0, 0, fields.data[0].data());  // same step twice
    FAIL("expected an exception");
  } catch (const std::logic_error&) {
  }
  CHECK(dir.entries().empty());
}

TEST_CASE("output: an unusable output folder is an input error before anything is written",
          "[output]") {
  TempDir dir;
  auto problems_for = [](const std::string& path) {
    ProblemList problems;
    check_output_path(path, problems);
    return problems;
  };
  {
    const auto problems = problems_for((dir.path() / "missing" / "f.nc").string());
    REQUIRE(problems.size() == 1);
    CHECK(problems.problems()[0].file == (dir.path() / "missing" / "f.nc").string());
    CHECK(problems.problems()[0].found.find("does not exist") != std::string::npos);
  }
  CHECK(problems_for(dir.path().string()).size() == 1);  // a folder, not a file name
  CHECK(problems_for("").size() == 1);
  CHECK(problems_for((dir.path() / "ok.nc").string()).empty());
  CHECK(dir.entries().empty());  // the writability probe cleans up after itself

  // Not writable: a read-only folder (root ignores permissions, so only as a
  // normal user) and /sys (refuses new files even for root).
  if (::geteuid() != 0) {
    const fs::path ro = dir.path() / "readonly";
    fs::create_directories(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    const auto problems = problems_for((ro / "f.nc").string());
    fs::permissions(ro, fs::perms::owner_all);
    REQUIRE(problems.size() == 1);
    CHECK(problems.problems()[0].expected == "a writable output folder");
  }
  if (fs::is_directory("/sys")) {
    const auto problems = problems_for("/sys/gencast_forecast.nc");
    REQUIRE(problems.size() == 1);
    CHECK(problems.problems()[0].expected == "a writable output folder");
  }

  auto spec = small_spec(dir.path() / "missing" / "f.nc");
  CHECK_THROWS_AS(NetcdfForecastWriter(spec), InputError);
}

// ---- the direct chunk path: BitRound, size, flush, write failures ----------

namespace {

// Forecast-like fields: per channel a smooth pattern at its own scale (like
// temperature in K or geopotential in m2 s-2) plus small-scale noise that
// fills the low mantissa bits, as a model's output does; SST NaN on land.
Fields realistic_fields(const ForecastOutputSpec& spec, unsigned seed) {
  Fields f = random_fields(spec, seed);
  std::mt19937 rng(seed + 1000);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const size_t n_lon = spec.lon.size();
  for (size_t s = 0; s < f.data.size(); ++s) {
    for (size_t c = 0; c < f.n_channels; ++c) {
      const double offset = 100.0 * static_cast<double>(c % 7), scale = 1.0 + static_cast<double>(c % 5);
      for (size_t g = 0; g < f.n_grid; ++g) {
        float& v = f.data[s][g * f.n_channels + c];
        if (std::isnan(v)) continue;  // land
        const double lat = spec.lat[g / n_lon] * std::numbers::pi / 180.0;
        const double lon = spec.lon[g % n_lon] * std::numbers::pi / 180.0;
        const double smooth = std::cos(lat) * std::sin(2 * lon + 0.1 * static_cast<double>(s)) +
                              0.3 * std::sin(3 * lat) * std::cos(5 * lon + static_cast<double>(c));
        v = static_cast<float>(offset + scale * (10.0 * smooth + 0.05 * uniform(rng)));
      }
    }
  }
  return f;
}

// The same forecast's data variables written the way netCDF-C writes them
// itself (nc_put_vara through HDF5's deflate level 1 + shuffle filters).
void write_with_netcdf_filters(const fs::path& file, const ForecastOutputSpec& spec,
                               const Fields& f) {
  int nc = -1;
  REQUIRE(nc_create(file.c_str(), NC_NETCDF4 | NC_CLOBBER, &nc) == NC_NOERR);
  int d[5];
  REQUIRE(nc_def_dim(nc, "sample", spec.member_ids.size(), &d[0]) == NC_NOERR);
  REQUIRE(nc_def_dim(nc, "time", spec.lead_hours.size(), &d[1]) == NC_NOERR);
  REQUIRE(nc_def_dim(nc, "level", spec.levels.size(), &d[2]) == NC_NOERR);
  REQUIRE(nc_def_dim(nc, "lat", spec.lat.size(), &d[3]) == NC_NOERR);
  REQUIRE(nc_def_dim(nc, "lon", spec.lon.size(), &d[4]) == NC_NOERR);
  std::vector<int> varids;
  for (const auto& ch : spec.channels) {
    int v = -1;
    if (nc_inq_varid(nc, ch.variable.c_str(), &v) == NC_NOERR) {
      varids.push_back(v);
      continue;
    }
    const bool levels = ch.level >= 0;
    std::vector<int> dims = {d[0], d[1]};
    if (levels) dims.push_back(d[2]);
    dims.push_back(d[3]);
    dims.push_back(d[4]);
    std::vector<size_t> chunks(dims.size(), 1);
    chunks[dims.size() - 2] = spec.lat.size();
    chunks[dims.size() - 1] = spec.lon.size();
    REQUIRE(nc_def_var(nc, ch.variable.c_str(), NC_FLOAT, static_cast<int>(dims.size()),
                       dims.data(), &v) == NC_NOERR);
    REQUIRE(nc_def_var_chunking(nc, v, NC_CHUNKED, chunks.data()) == NC_NOERR);
    REQUIRE(nc_def_var_deflate(nc, v, 1, 1, 1) == NC_NOERR);
    varids.push_back(v);
  }
  const size_t n_leads = spec.lead_hours.size();
  std::vector<float> field(f.n_grid);
  for (size_t s = 0; s < f.data.size(); ++s) {
    for (size_t c = 0; c < f.n_channels; ++c) {
      for (size_t g = 0; g < f.n_grid; ++g) field[g] = f.data[s][g * f.n_channels + c];
      const bool levels = spec.channels[c].level >= 0;
      std::vector<size_t> start = {s / n_leads, s % n_leads}, count = {1, 1};
      if (levels) {
        start.push_back(static_cast<size_t>(spec.channels[c].level));
        count.push_back(1);
      }
      start.insert(start.end(), {0, 0});
      count.insert(count.end(), {spec.lat.size(), spec.lon.size()});
      REQUIRE(nc_put_vara_float(nc, varids[c], start.data(), count.data(), field.data()) ==
              NC_NOERR);
    }
  }
  REQUIRE(nc_close(nc) == NC_NOERR);
}

// Bytes HDF5 stores for variable `name`'s chunks.
uint64_t stored_bytes(const fs::path& file, const std::string& name) {
  const hid_t h = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(h >= 0);
  const hid_t ds = H5Dopen2(h, name.c_str(), H5P_DEFAULT);
  REQUIRE(ds >= 0);
  const uint64_t bytes = H5Dget_storage_size(ds);
  H5Dclose(ds);
  H5Fclose(h);
  return bytes;
}

// Runs `body` in a child process with stderr sent to `stderr_file`; returns
// the child's wait status. For what must happen in a process of its own: a
// kill -9, a file size limit, the HDF5 library's shutdown at exit.
template <class Body>
int in_child_process(const fs::path& stderr_file, Body body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    body();
    std::exit(0);  // a normal exit: atexit handlers (HDF5's shutdown) run
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("output: keep_bits stores netCDF's BitRound of the values and says so", "[output]") {
  TempDir dir;
  auto spec = small_spec(dir.path() / "q.nc");
  spec.keep_bits = 7;
  const auto fields = realistic_fields(spec, 21);
  {
    NetcdfForecastWriter writer(spec);
    write_all(writer, spec, fields);
    writer.close();
  }
  // What is stored is exactly bitround() of what was written (NaN land kept)...
  Fields rounded = fields;
  for (auto& step : rounded.data) bitround(step.data(), step.size(), 7);
  NcFile nc(dir.path() / "q.nc");
  for (const auto& name : {"temperature", "sea_surface_temperature", "2m_temperature"}) {
    check_values(nc, spec, rounded, name, false);
    int mode = -1, nsb = -1;
    REQUIRE(nc_inq_var_quantize(nc.id, nc.var(name), &mode, &nsb) == NC_NOERR);
    CHECK(mode == NC_QUANTIZE_BITROUND);
    CHECK(nsb == 7);
    int att = -1;
    REQUIRE(nc_get_att_int(nc.id, nc.var(name), "_QuantizeBitRoundNumberOfSignificantBits",
                           &att) == NC_NOERR);
    CHECK(att == 7);
  }
  // ... and so within 2^-8 of it, relative.
  const auto stored = nc.floats("2m_temperature");
  size_t channel = 0;
  while (spec.channels[channel].variable != "2m_temperature") ++channel;
  double worst = 0;
  for (size_t m = 0; m < 2; ++m) {
    for (size_t l = 0; l < 3; ++l) {
      for (size_t g = 0; g < fields.n_grid; ++g) {
        const double want = fields.data[m * 3 + l][g * fields.n_channels + channel];
        const double got = stored[(m * 3 + l) * fields.n_grid + g];
        REQUIRE(std::isfinite(got));
        worst = std::max(worst, std::abs(got - want) / std::abs(want));
      }
    }
  }
  CHECK(worst <= std::ldexp(1.0, -8));
  CHECK(worst > 0);

  // Lossless by default: no quantize attribute.
  spec.keep_bits = 0;
  spec.path = (dir.path() / "lossless.nc").string();
  {
    NetcdfForecastWriter writer(spec);
    write_all(writer, spec, fields);
    writer.close();
  }
  NcFile plain(dir.path() / "lossless.nc");
  CHECK_FALSE(plain.has_att("temperature", "_QuantizeBitRoundNumberOfSignificantBits"));
  check_values(plain, spec, fields, "temperature", false);

  spec.keep_bits = 24;
  CHECK_THROWS_AS(NetcdfForecastWriter(spec), InputError);
  spec.keep_bits = -1;
  CHECK_THROWS_AS(NetcdfForecastWriter(spec), InputError);
}

TEST_CASE("output: chunks are no larger than netCDF's own zlib level 1 writes them",
          "[output]") {
  TempDir dir;
  auto spec = small_spec(dir.path() / "ours.nc");
  // 1 degree: chunks of 65 k values, as in real use (the default 4 degrees
  // would compare chunk overheads more than compression).
  spec.lat.clear();
  spec.lon.clear();
  for (int i = 0; i < 181; ++i) spec.lat.push_back(-90.0f + static_cast<float>(i));
  for (int i = 0; i < 360; ++i) spec.lon.push_back(static_cast<float>(i));
  spec.lead_hours = {12};
  const auto fields = realistic_fields(spec, 22);
  {
    NetcdfForecastWriter writer(spec);
    write_all(writer, spec, fields);
    writer.close();
  }
  write_with_netcdf_filters(dir.path() / "netcdf.nc", spec, fields);
  uint64_t ours = 0, theirs = 0;
  for (const auto& name : kSurface) {
    ours += stored_bytes(dir.path() / "ours.nc", name);
    theirs += stored_bytes(dir.path() / "netcdf.nc", name);
  }
  for (const auto& name : kAtmospheric) {
    ours += stored_bytes(dir.path() / "ours.nc", name);
    theirs += stored_bytes(dir.path() / "netcdf.nc", name);
  }
  INFO("ours " << ours << " bytes, netCDF's zlib 1 " << theirs << " bytes");
  CHECK(ours <= theirs);
  const uint64_t raw = fields.data.size() * fields.n_grid * fields.n_channels * sizeof(float);
  CHECK(ours < raw * 3 / 4);  // really compressed
}

TEST_CASE("output: incompressible fields are stored shuffled only, and read back exactly",
          "[output]") {
  TempDir dir;
  auto spec = small_spec(dir.path() / "noise.nc");
  spec.variables = {"2m_temperature", "temperature"};
  Fields fields = random_fields(spec, 26);
  // Random bit patterns (NaNs and infinities included) for 2m_temperature:
  // deflate cannot shrink them; temperature stays compressible.
  std::mt19937 rng(27);
  size_t t2m = 0;
  while (spec.channels[t2m].variable != "2m_temperature") ++t2m;
  for (auto& step : fields.data) {
    for (size_t g = 0; g < fields.n_grid; ++g) {
      step[g * fields.n_channels + t2m] = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    }
  }
  {
    NetcdfForecastWriter writer(spec);
    write_all(writer, spec, fields);
    writer.close();
  }
  NcFile nc(dir.path() / "noise.nc");
  check_values(nc, spec, fields, "2m_temperature", false);
  check_values(nc, spec, fields, "temperature", false);
  // The chunks say which filters they went through.
  auto masks = [&](const char* name) {
    const hid_t h = H5Fopen((dir.path() / "noise.nc").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t ds = H5Dopen2(h, name, H5P_DEFAULT);
    const hid_t space = H5Dget_space(ds);
    hsize_t n = 0;
    H5Dget_num_chunks(ds, space, &n);
    std::set<unsigned> out;
    for (hsize_t i = 0; i < n; ++i) {
      unsigned mask = 99;
      haddr_t addr = 0;
      hsize_t size = 0;
      REQUIRE(H5Dget_chunk_info(ds, space, i, nullptr, &mask, &addr, &size) >= 0);
      out.insert(mask);
    }
    H5Sclose(space);
    H5Dclose(ds);
    H5Fclose(h);
    return out;
  };
  CHECK(masks("2m_temperature") == std::set<unsigned>{2});  // deflate skipped
  CHECK(masks("temperature") == std::set<unsigned>{0});     // shuffle and deflate
}

TEST_CASE("output: flush() leaves a file another process reads after a kill -9", "[output]") {
  TempDir dir;
  const auto spec = small_spec(dir.path() / "f.nc");
  const auto fields = random_fields(spec, 23);
  const int status = in_child_process(dir.path() / "stderr.txt", [&] {
    NetcdfForecastWriter writer(spec);
    writer.write_step(1, 2, fields.data[5].data());
    writer.write_step(0, 0, fields.data[0].data());
    writer.flush();
    ::kill(::getpid(), SIGKILL);
  });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  std::string partial;
  for (const auto& name : dir.entries()) {
    if (name == "f.nc.partial") partial = name;
  }
  REQUIRE(!partial.empty());
  // The two flushed steps read back bit for bit, NaN land included.
  NcFile nc(dir.path() / partial);
  const auto stored = nc.floats("sea_surface_temperature");
  size_t channel = 0;
  while (spec.channels[channel].variable != "sea_surface_temperature") ++channel;
  size_t mismatches = 0, nans = 0;
  for (const auto& [m, l] : {std::pair<size_t, size_t>{1, 2}, {0, 0}}) {
    for (size_t g = 0; g < fields.n_grid; ++g) {
      const float want = fields.data[m * 3 + l][g * fields.n_channels + channel];
      const float got = stored[(m * 3 + l) * fields.n_grid + g];
      mismatches += !same_bits(want, got);
      nans += std::isnan(got);
    }
  }
  CHECK(mismatches == 0);
  CHECK(nans > 0);
}

TEST_CASE("output: a disk that fills up is a RuntimeFailure and leaves nothing behind",
          "[output]") {
  TempDir dir;
  const auto spec = small_spec(dir.path() / "f.nc");
  const auto fields = random_fields(spec, 25);
  const fs::path err_file = dir.path() / "stderr.txt";
  const int status = in_child_process(err_file, [&] {
    int code = 3;  // no failure seen
    {
      NetcdfForecastWriter writer(spec);
      writer.write_step(0, 0, fields.data[0].data());
      // The disk is full from now on: the file's descriptor now leads to
      // /dev/full, whose writes fail with ENOSPC.
      const int full = ::open("/dev/full", O_WRONLY);
      for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        if (fs::read_symlink(e.path(), ec) == fs::path(writer.temp_path())) {
          ::dup2(full, std::stoi(e.path().filename().string()));
        }
      }
      try {
        writer.write_step(1, 0, fields.data[3].data());
        writer.write_step(0, 1, fields.data[1].data());
      } catch (const RuntimeFailure& e) {
        std::fprintf(stderr, "caught: %s\n", e.what());
        code = 0;
      }
    }  // the writer gives the file up
    // ... and nothing of it stays open inside HDF5.
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE) != 0) code = 5;
    std::fflush(stderr);
    std::exit(code);
  });
  const std::string err = read_text(err_file);
  INFO("child stderr:\n" << err);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(err.find("caught: ") == 0);
  CHECK(err.find("No space left on device") != std::string::npos);
  CHECK(err.find('\n') == err.size() - 1);  // HDF5 printed nothing itself
  CHECK(dir.entries() == std::vector<std::string>{"stderr.txt"});
}

TEST_CASE("output: a failure even HDF5 cannot close is a RuntimeFailure and exits cleanly",
          "[output]") {
  TempDir dir;
  auto spec = small_spec(dir.path() / "f.nc");
  spec.lead_hours = {12, 24, 36, 48, 60, 72};
  const auto fields = random_fields(spec, 24);
  const fs::path err_file = dir.path() / "stderr.txt";
  // A file size limit makes every write beyond 1 MB fail with EFBIG (SIGXFSZ
  // ignored, so the call returns the error) -- also the writes HDF5 makes
  // when the writer gives the file up, so its close fails: HDF5 1.10 then
  // crashed at exit unless its exit-time cleanup is off.
  const int status = in_child_process(err_file, [&] {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1 << 20, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    int code = 3;  // no failure seen
    try {
      NetcdfForecastWriter writer(spec);
      for (int l = 0; l < 6; ++l) {
        for (int m = 0; m < 2; ++m) writer.write_step(m, l, fields.data[m * 6 + l].data());
      }
      writer.close();
    } catch (const RuntimeFailure& e) {
      std::fprintf(stderr, "caught: %s\n", e.what());
      code = 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "wrong exception: %s\n", e.what());
      code = 4;
    }
    std::fflush(stderr);
    std::exit(code);  // through atexit: HDF5 shuts down with nothing left open
  });
  const std::string err = read_text(err_file);
  INFO("child stderr:\n" << err);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(err.find("caught: ") == 0);
  CHECK(err.find("File too large") != std::string::npos);  // the system's reason, passed on
  CHECK(err.find("HDF5-DIAG") == std::string::npos);       // HDF5 printed nothing itself
  CHECK(err.find('\n') == err.size() - 1);                 // one line: ours
  CHECK(dir.entries() == std::vector<std::string>{"stderr.txt"});
}
