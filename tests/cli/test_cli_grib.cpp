// GRIB end to end on the tiny fixture model (CPU): a forecast written as GRIB2
// (format from the .grib2 name) read back with the ecCodes tools (grib_ls,
// grib_get, grib_get_data): message count, keys, member numbers, the tp step
// range, values within the packing error of the same forecast in NetCDF;
// a forecast from ERA5-style GRIB input (IEEE, two files) equal bitwise to
// the NetCDF-input forecast, every variable; bad GRIB input exits 2 naming
// the file and the field; check-config shows the format.
#include <catch2/catch.hpp>
#include <netcdf.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "io/netcdf_input.h"
#include "unit/test_grib_files.h"
#include "unit/test_input_files.h"

using namespace gencast;
using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

const char* kInit = "2019-03-29T12:00";

std::string flags(const std::string& inputs, const std::string& output) {
  return "--checkpoint " + shell_quote(tiny_fixture("tiny_checkpoint.npz")) + " --stats-dir " +
         shell_quote(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny") + " " + inputs +
         " --output " + shell_quote(output) + " --device cpu --steps 2 --members 2 --seed 5";
}

std::string input_flags(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) out += " --input " + shell_quote(p);
  return out;
}

// Runs a shell command; its stdout lines (and exit code through `rc`).
std::vector<std::string> shell_lines(const std::string& command, int* rc = nullptr) {
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::vector<std::string> lines;
  char buf[4096];
  std::string line;
  while (std::fgets(buf, sizeof buf, p)) {
    line += buf;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      lines.push_back(line);
      line.clear();
    }
  }
  const int status = ::pclose(p);
  if (rc) *rc = WEXITSTATUS(status);
  return lines;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// A NetCDF forecast variable (predictions layout) as floats, with its dim sizes.
struct NcVar {
  std::vector<size_t> dims;
  std::vector<float> values;
};

NcVar read_nc(const std::string& path, const std::string& name) {
  int nc = -1, var = -1, ndims = 0;
  REQUIRE(nc_open(path.c_str(), NC_NOWRITE, &nc) == NC_NOERR);
  REQUIRE(nc_inq_varid(nc, name.c_str(), &var) == NC_NOERR);
  nc_inq_varndims(nc, var, &ndims);
  std::vector<int> ids(static_cast<size_t>(ndims));
  nc_inq_vardimid(nc, var, ids.data());
  NcVar v;
  size_t total = 1;
  for (int id : ids) {
    size_t len = 0;
    nc_inq_dimlen(nc, id, &len);
    v.dims.push_back(len);
    total *= len;
  }
  v.values.resize(total);
  REQUIRE(nc_get_var_float(nc, var, v.values.data()) == NC_NOERR);
  nc_close(nc);
  return v;
}

// Every variable of a NetCDF file as raw bytes, by name.
std::map<std::string, std::vector<unsigned char>> all_variables(const std::string& path) {
  int nc = -1, nvars = 0;
  REQUIRE(nc_open(path.c_str(), NC_NOWRITE, &nc) == NC_NOERR);
  nc_inq_nvars(nc, &nvars);
  std::map<std::string, std::vector<unsigned char>> out;
  for (int v = 0; v < nvars; ++v) {
    char name[NC_MAX_NAME + 1];
    nc_type type = 0;
    int ndims = 0;
    nc_inq_var(nc, v, name, &type, &ndims, nullptr, nullptr);
    std::vector<int> ids(static_cast<size_t>(ndims));
    nc_inq_vardimid(nc, v, ids.data());
    size_t total = 1, type_size = 0;
    for (int id : ids) {
      size_t len = 0;
      nc_inq_dimlen(nc, id, &len);
      total *= len;
    }
    nc_inq_type(nc, type, nullptr, &type_size);
    std::vector<unsigned char> bytes(total * type_size);
    REQUIRE(nc_get_var(nc, v, bytes.data()) == NC_NOERR);
    out[name] = std::move(bytes);
  }
  nc_close(nc);
  return out;
}

}  // namespace

TEST_CASE("a GRIB2 forecast reads back with the ecCodes tools", "[cli][grib]") {
  TempDir dir;
  const std::string nc = dir.file("f.nc"), grib = dir.file("f.grib2");
  const std::string in =
      input_flags({tiny_fixture("source_tiny.nc")}) + " --init-time " + std::string(kInit);
  for (const auto& out : {nc, grib}) {
    const CliResult r = run_gencast("forecast " + flags(in, out));
    INFO(r.all());
    REQUIRE(r.exit_code == 0);
  }
  CHECK(dir.entries() == std::vector<std::string>{"f.grib2", "f.nc"});

  // grib_ls: every (member, lead, variable, level) once.
  const auto ls = shell_lines("grib_ls " + shell_quote(grib));
  REQUIRE_FALSE(ls.empty());
  // 2 members x 2 leads x 84 fields (6 single-level, 6 x 13 pressure-level).
  CHECK(ls.back().find("336 of 336 total messages") != std::string::npos);

  // grib_get: the keys of every message.
  int rc = -1;
  const auto keys = shell_lines(
      "grib_get -p shortName,typeOfLevel,level,number,stepRange,dataType,"
      "numberOfForecastsInEnsemble,productDefinitionTemplateNumber,dataDate,dataTime,edition " +
          shell_quote(grib),
      &rc);
  REQUIRE(rc == 0);
  REQUIRE(keys.size() == 336);
  std::map<std::string, int> per_param;
  std::set<std::string> numbers, tp_ranges, other_steps;
  for (const auto& line : keys) {
    const auto w = words(line);
    REQUIRE(w.size() == 11);
    INFO(line);
    per_param[w[0] + "/" + w[1] + "/" + (w[1] == "isobaricInhPa" ? std::string("pl") : w[2])]++;
    numbers.insert(w[3]);
    CHECK(w[5] == "pf");
    CHECK(w[6] == "2");
    CHECK(w[8] == "20190329");
    CHECK(w[9] == "1200");
    CHECK(w[10] == "2");
    if (w[0] == "tp") {
      tp_ranges.insert(w[4]);
      CHECK(w[7] == "11");
    } else {
      other_steps.insert(w[4]);
      CHECK(w[7] == "1");
    }
  }
  const std::map<std::string, int> want = {
      {"2t/heightAboveGround/2", 4},  {"10u/heightAboveGround/10", 4},
      {"10v/heightAboveGround/10", 4}, {"msl/meanSea/0", 4},
      {"sst/surface/0", 4},            {"tp/surface/0", 4},
      {"t/isobaricInhPa/pl", 52},      {"z/isobaricInhPa/pl", 52},
      {"u/isobaricInhPa/pl", 52},      {"v/isobaricInhPa/pl", 52},
      {"w/isobaricInhPa/pl", 52},      {"q/isobaricInhPa/pl", 52}};
  CHECK(per_param == want);
  CHECK(numbers == std::set<std::string>{"0", "1"});
  CHECK(tp_ranges == std::set<std::string>{"0-12", "12-24"});
  CHECK(other_steps == std::set<std::string>{"12", "24"});

  // grib_get_data: member 1 at +24 h against the NetCDF forecast of the same run.
  struct Field {
    const char* nc_name;
    const char* where;
    int level_index;  // -1 = surface
  };
  for (const Field& f : {Field{"2m_temperature", "shortName=2t,step=24", -1},
                         Field{"total_precipitation_12hr", "shortName=tp,stepRange=12-24", -1},
                         Field{"sea_surface_temperature", "shortName=sst,step=24", -1},
                         Field{"temperature", "shortName=t,level=500,step=24", 7},
                         Field{"specific_humidity", "shortName=q,level=1000,step=24", 12}}) {
    INFO(f.nc_name);
    const NcVar v = read_nc(nc, f.nc_name);
    const size_t n_lat = 46, n_lon = 90, n_grid = n_lat * n_lon;
    const size_t n_levels = f.level_index >= 0 ? 13 : 1;
    // (sample, batch, time, [level,] lat, lon): member 1, lead 24 h.
    const size_t base = ((1 * 2 + 1) * n_levels + static_cast<size_t>(std::max(f.level_index, 0))) * n_grid;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t g = 0; g < n_grid; ++g)
      if (!std::isnan(v.values[base + g]))
        lo = std::min(lo, double{v.values[base + g]}), hi = std::max(hi, double{v.values[base + g]});
    const auto data = shell_lines("grib_get_data -m nan -F %.9g -w number=1," +
                                  std::string(f.where) + " " + shell_quote(grib), &rc);
    REQUIRE(rc == 0);
    REQUIRE(data.size() == n_grid + 1);  // header + one line per point
    size_t nan_points = 0;
    double worst = 0;
    for (size_t k = 1; k < data.size(); ++k) {
      const auto w = words(data[k]);
      REQUIRE(w.size() == 3);
      const double lat = std::stod(w[0]), lon = std::stod(w[1]);
      const auto i = static_cast<size_t>(std::lround((lat + 90.0) / 4.0));
      const auto j = static_cast<size_t>(std::lround(lon / 4.0));
      const float want_v = v.values[base + i * n_lon + j];
      const bool missing = w[2] == "nan";
      REQUIRE(missing == std::isnan(want_v));
      if (missing) {
        ++nan_points;
        continue;
      }
      worst = std::max(worst, std::fabs(std::stod(w[2]) - want_v));
    }
    // Simple packing, 16 bits: error < range / 65535 (io/grib_forecast_sink.h).
    CHECK(worst <= (hi - lo) / 65535.0);
    if (std::string(f.nc_name) == "sea_surface_temperature") CHECK(nan_points > 0);
  }
}

TEST_CASE("a forecast from ERA5 GRIB input equals the NetCDF-input forecast bitwise", "[cli][grib]") {
  TempDir dir;
  // The fixture's input frames as CDS would give them: pressure levels and
  // single levels in two files, IEEE-packed so every value is exact.
  const InputDataset source = read_input_dataset(tiny_fixture("source_tiny.nc"),
                                                 default_gencast_task(), kInit);
  const auto grib_inputs = write_era5_grib(source, dir.path());
  const std::string from_nc = dir.file("from_nc.nc"), from_grib = dir.file("from_grib.nc");
  CliResult r = run_gencast("forecast " + flags(input_flags({tiny_fixture("source_tiny.nc")}) +
                                                    " --init-time " + kInit,
                                                from_nc));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  r = run_gencast("forecast " + flags(input_flags(grib_inputs), from_grib));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  const auto a = all_variables(from_nc), b = all_variables(from_grib);
  REQUIRE(a.size() == b.size());
  size_t data_vars = 0;
  for (const auto& [name, bytes] : a) {
    INFO(name);
    REQUIRE(b.count(name) == 1);
    CHECK(b.at(name) == bytes);
    data_vars += bytes.size() > 46 * 90 ? 1 : 0;
  }
  CHECK(data_vars == 12);  // every target variable was compared
}

TEST_CASE("bad GRIB input exits 2 naming the file and the field", "[cli][grib]") {
  TempDir dir;
  const InputDataset source = read_input_dataset(tiny_fixture("source_tiny.nc"),
                                                 default_gencast_task(), kInit);
  Era5GribOptions o;
  std::vector<std::string> expect;
  SECTION("a missing variable") {
    o.skip_variables = {"specific_humidity"};
    expect = {"era5_pl.grib", "specific_humidity (q)", "missing"};
  }
  SECTION("a missing level") {
    o.skip_level = 850;
    expect = {"era5_pl.grib", "temperature (t)", "850 hPa"};
  }
  SECTION("a field on another grid") {
    o.other_grid_variable = "mean_sea_level_pressure";
    expect = {"era5_sfc.grib", "mean_sea_level_pressure (msl)", "regular_ll 45 x 23"};
  }
  const auto paths = write_era5_grib(source, dir.path(), o);
  for (const char* command : {"forecast", "check-config"}) {
    const CliResult r =
        run_gencast(std::string(command) + " " + flags(input_flags(paths), dir.file("out.grib2")));
    INFO(command << "\n" << r.all());
    CHECK(r.exit_code == 2);
    for (const auto& e : expect) CHECK(r.all().find(e) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(dir.file("out.grib2")));
}

TEST_CASE("check-config shows the GRIB output and refuses a contradicting format", "[cli][grib]") {
  TempDir dir;
  const std::string in = input_flags({tiny_fixture("source_tiny.nc")});
  CliResult r = run_gencast("check-config " + flags(in, dir.file("f.grib2")) + " --grib-packing ieee");
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("GRIB2, 32-bit IEEE packing") != std::string::npos);
  r = run_gencast("check-config " + flags(in, dir.file("f.grib2")) + " --format netcdf");
  INFO(r.all());
  CHECK(r.exit_code == 2);
  CHECK(r.all().find("--format") != std::string::npos);
  CHECK(r.all().find("f.grib2") != std::string::npos);
}
