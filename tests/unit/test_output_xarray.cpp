// The forecast files open in xarray as the reference's notebooks expect:
// writes forecasts with NetcdfForecastWriter on the fixtures' 4-degree grid (SST
// NaN where source_tiny.nc has it) and runs tests/cli/check_forecast_xarray.py
// on them with /usr/bin/python3. Also shows that the script fails on broken
// files, so a pass means something. Skipped (GENCAST_SKIP) when python3 has
// no xarray; CI installs python3-xarray.
#include <netcdf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include "test_temp_dir.h"
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/netcdf_forecast_writer.h"

using namespace gencast;
using gencast::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kScript = std::string(GENCAST_SOURCE_DIR) + "/tests/cli/check_forecast_xarray.py";
const std::string kSource = std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/source_tiny.nc";
constexpr int kSkipExit = 77;  // the script's "xarray missing" code


struct SourceGrid {
  std::vector<float> lat, lon;
  std::vector<unsigned char> sst_nan;  // [lat * lon], first frame of the source file
};

SourceGrid read_source_grid() {
  int nc = -1;
  REQUIRE(nc_open(kSource.c_str(), NC_NOWRITE, &nc) == NC_NOERR);
  auto read_1d = [&](const char* name) {
    int var = -1, dim = -1;
    size_t len = 0;
    REQUIRE(nc_inq_varid(nc, name, &var) == NC_NOERR);
    REQUIRE(nc_inq_vardimid(nc, var, &dim) == NC_NOERR);
    REQUIRE(nc_inq_dimlen(nc, dim, &len) == NC_NOERR);
    std::vector<float> out(len);
    REQUIRE(nc_get_var_float(nc, var, out.data()) == NC_NOERR);
    return out;
  };
  SourceGrid grid;
  grid.lat = read_1d("lat");
  grid.lon = read_1d("lon");
  int sst = -1;
  REQUIRE(nc_inq_varid(nc, "sea_surface_temperature", &sst) == NC_NOERR);
  const size_t start[4] = {0, 0, 0, 0};
  const size_t count[4] = {1, 1, grid.lat.size(), grid.lon.size()};
  std::vector<float> frame(grid.lat.size() * grid.lon.size());
  REQUIRE(nc_get_vara_float(nc, sst, start, count, frame.data()) == NC_NOERR);
  nc_close(nc);
  for (float v : frame) grid.sst_nan.push_back(std::isnan(v) ? 1 : 0);
  return grid;
}

std::vector<ChannelSlot> target_channels() {
  // Sorted target names, as the model emits them; atmospheric ones on 13 levels.
  const std::vector<std::pair<std::string, bool>> vars = {
      {"10m_u_component_of_wind", false},  {"10m_v_component_of_wind", false},
      {"2m_temperature", false},           {"geopotential", true},
      {"mean_sea_level_pressure", false},  {"sea_surface_temperature", false},
      {"specific_humidity", true},         {"temperature", true},
      {"total_precipitation_12hr", false}, {"u_component_of_wind", true},
      {"v_component_of_wind", true},       {"vertical_velocity", true}};
  std::vector<ChannelSlot> out;
  for (const auto& [name, levels] : vars) {
    if (!levels) out.push_back({name, 0, -1});
    for (int k = 0; levels && k < 13; ++k) out.push_back({name, 0, k});
  }
  return out;
}

enum class Defect { none, nan_in_temperature, sst_mask_changes, sst_mask_shifted };

// Writes a 2-member, 2-step forecast with SST NaN on the source's land points.
void write_forecast(const fs::path& file, OutputLayout layout, const SourceGrid& grid,
                    Defect defect) {
  ForecastOutputSpec spec;
  spec.path = file.string();
  spec.layout = layout;
  spec.lat = grid.lat;
  spec.lon = grid.lon;
  spec.levels = {50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000};
  spec.init_time_s = 1553817600;  // 2019-03-29T00:00:00Z, the source file's first frame
  spec.lead_hours = {12, 24};
  spec.member_ids = {0, 1};
  spec.channels = target_channels();
  spec.command_line = "test_output_xarray";
  NetcdfForecastWriter writer(spec);
  const size_t n_grid = grid.lat.size() * grid.lon.size(), n_ch = spec.channels.size();
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(270.0f, 300.0f);
  for (int m = 0; m < 2; ++m) {
    for (int l = 0; l < 2; ++l) {
      std::vector<float> fields(n_grid * n_ch);
      for (auto& v : fields) v = uniform(rng);
      for (size_t c = 0; c < n_ch; ++c) {
        const auto& name = spec.channels[c].variable;
        for (size_t g = 0; g < n_grid; ++g) {
          float& v = fields[g * n_ch + c];
          if (name == "sea_surface_temperature") {
            size_t src = g;
            if (defect == Defect::sst_mask_shifted) src = (g + 1) % n_grid;
            if (defect == Defect::sst_mask_changes && m == 1 && l == 1) src = (g + 7) % n_grid;
            if (grid.sst_nan[src]) v = std::numeric_limits<float>::quiet_NaN();
          }
          if (defect == Defect::nan_in_temperature && name == "temperature" && m == 1 && l == 1 &&
              g == 100) {
            v = std::numeric_limits<float>::quiet_NaN();
          }
        }
      }
      writer.write_step(m, l, fields.data());
    }
  }
  writer.close();
}

struct ScriptResult {
  int exit_code = -1;
  std::string output;
};

ScriptResult run_script(const fs::path& file, const std::string& args, const fs::path& log) {
  const std::string cmd = "/usr/bin/python3 '" + kScript + "' '" + file.string() + "' " + args +
                          " > '" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  ScriptResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

// True when python3 with xarray is available; otherwise reports the skip.
bool xarray_available(const TempDir& dir) {
  const auto r = run_script(dir.path() / "none.nc", "", dir.path() / "probe.log");
  if (r.exit_code == kSkipExit || r.exit_code == 127 || !fs::exists("/usr/bin/python3")) {
    WARN("GENCAST_SKIP: /usr/bin/python3 with xarray is not available: " << r.output);
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("output: xarray opens both layouts and the checks pass", "[output][xarray]") {
  TempDir dir;
  if (!xarray_available(dir)) return;
  const auto grid = read_source_grid();
  const std::string expect =
      "--expect-members 2 --expect-steps 2 --expect-levels 13 "
      "--nan-mask-from '" +
      kSource + "'";

  write_forecast(dir.path() / "predictions.nc", OutputLayout::predictions, grid, Defect::none);
  auto r =
      run_script(dir.path() / "predictions.nc", "--layout predictions " + expect, dir.path() / "p.log");
  INFO(r.output);
  CHECK(r.exit_code == 0);

  write_forecast(dir.path() / "wb2.nc", OutputLayout::wb2, grid, Defect::none);
  r = run_script(dir.path() / "wb2.nc", "--layout wb2 " + expect, dir.path() / "w.log");
  INFO(r.output);
  CHECK(r.exit_code == 0);
}

TEST_CASE("output: the xarray check fails on broken forecasts", "[output][xarray]") {
  TempDir dir;
  if (!xarray_available(dir)) return;
  const auto grid = read_source_grid();
  struct Case {
    Defect defect;
    std::string args;
    std::string message;  // part of the failure the script must print
  };
  const std::vector<Case> cases = {
      // One grid point on all 13 levels.
      {Defect::nan_in_temperature, "", "temperature: 13 non-finite values in member index 1"},
      {Defect::none, "--expect-variables 2m_temperature", "variables ["},
      {Defect::sst_mask_changes, "", "NaN pattern differs from member 0"},
      {Defect::sst_mask_shifted, "--nan-mask-from '" + kSource + "'",
       "NaN pattern differs from " + kSource},
      {Defect::none, "--expect-members 3", "2 members, expected 3"},
      {Defect::none, "--layout wb2", "missing dimension 'prediction_timedelta'"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path file = dir.path() / ("broken" + std::to_string(i) + ".nc");
    write_forecast(file, OutputLayout::predictions, grid, cases[i].defect);
    const auto r = run_script(file, cases[i].args, dir.path() / "b.log");
    INFO("case " << i << ": " << r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find(cases[i].message) != std::string::npos);
  }
}
