// `gencast-run plot` and `forecast --plot` on real forecast files of the tiny
// model (CPU): the PNG decodes to the layout's size, its maps are not blank,
// its legends hold text; the figure's panels are the ensemble mean, the
// population standard deviation and the chosen member of the file's fields
// (computed here independently), NaN where any member is NaN; bad choices
// exit 2 naming what the file has; the output must be a .png.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "io/forecast_reader.h"
#include "io/png_map.h"
#include "runtime/plot_maps.h"
#include "runtime/plot_style.h"
#include "test_temp_dir.h"
#include "unit/test_png_image.h"

using namespace gencast;
using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

std::string tiny(const std::string& name) {
  return std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/" + name;
}

// A 3-member, 2-step tiny forecast in `dir` (a few seconds on the CPU).
std::string tiny_forecast(const TempDir& dir, const std::string& extra = "") {
  const std::string out = dir.file("fc.nc");
  const CliResult r = run_gencast(
      "forecast --checkpoint " + shell_quote(tiny("tiny_checkpoint.npz")) + " --stats-dir " +
      shell_quote(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny") + " --input " +
      shell_quote(tiny("source_tiny.nc")) + " --output " + shell_quote(out) +
      " --device cpu --steps 2 --members 3 " + extra);
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  return out;
}

void check_png(const std::string& path) {
  const PngImage img = read_png(path);
  const MapFigureLayout lay = map_figure_layout(3);
  REQUIRE(img.width == lay.width);
  REQUIRE(img.height == lay.height);
  for (const auto& p : lay.panels) {
    CHECK(distinct_colours(img, p.map) > 100);  // a field, not a flat fill
    CHECK(dark_pixels(img, p.legend) > 50);     // tick labels and units
  }
  CHECK(dark_pixels(img, lay.heading) > 100);
}

}  // namespace

TEST_CASE("plot writes a PNG of mean, spread and a member", "[cli][plot]") {
  TempDir dir;
  const std::string fc = tiny_forecast(dir);
  const CliResult r = run_gencast("plot " + shell_quote(fc), dir.path().string());
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  // Default name beside the forecast: 2m_temperature at the last lead (24 h < 5 d).
  const std::string png = dir.file("fc_2m_temperature_24h.png");
  CHECK(r.out.find(png) != std::string::npos);
  check_png(png);

  SECTION("a level variable, a lead, a member and an output name") {
    const std::string out = dir.file("z.png");
    const CliResult z = run_gencast("plot " + shell_quote(fc) +
                                    " --variable geopotential --level 850 --lead 12h --member 2 -o " +
                                    shell_quote(out));
    INFO(z.all());
    REQUIRE(z.exit_code == 0);
    CHECK(z.out.find("geopotential at 850 hPa, lead 12 h, member 2") != std::string::npos);
    check_png(out);
  }
}

TEST_CASE("plot refuses what the file does not have, naming what it has", "[cli][plot]") {
  TempDir dir;
  const std::string fc = tiny_forecast(dir);
  const auto refused = [&](const std::string& flags, const std::vector<std::string>& words) {
    const CliResult r = run_gencast("plot " + shell_quote(fc) + " " + flags, dir.path().string());
    INFO(flags << "\n" << r.all());
    CHECK(r.exit_code == 2);
    for (const auto& w : words) CHECK(r.err.find(w) != std::string::npos);
  };
  refused("--variable 2m_temprature", {"--variable", "2m_temprature", "2m_temperature",
                                       "geopotential", "total_precipitation_12hr"});
  refused("--lead 5d", {"--lead", "12h, 24h"});
  refused("--lead 13h", {"--lead", "12 h"});
  refused("--variable temperature --level 475", {"--level", "500", "850", "1000"});
  refused("--variable 2m_temperature --level 500", {"--level", "surface"});
  refused("--member 7", {"--member", "0, 1, 2"});
  refused("-o map.jpg", {".png"});
  refused("-o " + shell_quote(fc), {".png"});
  // Nothing but the forecast was written.
  CHECK(dir.entries() == std::vector<std::string>{"fc.nc"});

  const CliResult not_ours = run_gencast("plot " + shell_quote(tiny("source_tiny.nc")) + " -o " +
                                         shell_quote(dir.file("x.png")));
  CHECK(not_ours.exit_code == 2);
  CHECK(not_ours.err.find("gencast-run") != std::string::npos);
}

TEST_CASE("the plotted panels are the ensemble mean, spread and member", "[plot]") {
  TempDir dir;
  const std::string fc = tiny_forecast(dir, "--layout wb2");  // the other layout
  for (const char* variable : {"sea_surface_temperature", "10m_u_component_of_wind"}) {
    INFO(variable);
    PlotOptions o;
    o.forecast = fc;
    o.variable = variable;
    o.lead = "24h";
    o.member = 1;
    const PlotFigure plot = make_plot_figure(o);
    REQUIRE(plot.figure.panels.size() == 3);
    CHECK(plot.result.lead_hours == 24);
    CHECK(plot.result.path == dir.file(std::string("fc_") + variable + "_24h.png"));

    const ForecastReader reader(fc);
    const auto& s = reader.info().spec;
    int channel = -1;
    for (size_t k = 0; k < s.channels.size(); ++k)
      if (s.channels[k].variable == variable) channel = static_cast<int>(k);
    REQUIRE(channel >= 0);
    const size_t cells = s.lat.size() * s.lon.size();
    std::vector<std::vector<float>> m(3, std::vector<float>(cells));
    for (int k = 0; k < 3; ++k) reader.read_field(k, 1, channel, m[k].data());
    size_t nan_cells = 0;
    for (size_t g = 0; g < cells; ++g) {
      const double mean = (double{m[0][g]} + m[1][g] + m[2][g]) / 3;
      const double var = (std::pow(m[0][g] - mean, 2) + std::pow(m[1][g] - mean, 2) +
                          std::pow(m[2][g] - mean, 2)) / 3;
      const float pm = plot.figure.panels[0].values[g], ps = plot.figure.panels[1].values[g];
      if (std::isnan(m[0][g]) || std::isnan(m[1][g]) || std::isnan(m[2][g])) {
        ++nan_cells;
        REQUIRE(std::isnan(pm));
        REQUIRE(std::isnan(ps));
        continue;
      }
      REQUIRE(std::fabs(pm - mean) <= 1e-5 * std::fabs(mean) + 1e-6);
      REQUIRE(std::fabs(ps - std::sqrt(var)) <= 1e-4 * std::sqrt(var) + 1e-5);
    }
    // Member 1, bit for bit (NaNs included).
    REQUIRE(plot.figure.panels[2].values.size() == cells);
    CHECK(std::memcmp(plot.figure.panels[2].values.data(), m[1].data(), cells * sizeof(float)) == 0);
    if (std::string(variable) == "sea_surface_temperature") CHECK(nan_cells > 100);  // land
    // Mean and member share one colour range; the wind's is symmetric.
    CHECK(plot.figure.panels[0].vmin == plot.figure.panels[2].vmin);
    CHECK(plot.figure.panels[0].vmax == plot.figure.panels[2].vmax);
    if (std::string(variable) == "10m_u_component_of_wind")
      CHECK(plot.figure.panels[0].vmin == -plot.figure.panels[0].vmax);
    CHECK(plot.figure.panels[1].vmin == 0);
  }
}

TEST_CASE("forecast --plot writes the map beside the output", "[cli][plot]") {
  TempDir dir;
  tiny_forecast(dir, "--plot --variables 2m_temperature,geopotential");
  check_png(dir.file("fc_2m_temperature_24h.png"));
}

TEST_CASE("colour ranges: round ends, symmetric winds, amounts from zero", "[plot]") {
  const std::vector<float> temps{231.3f, 250.f, 305.7f, std::nanf("")};
  const ColourRange t = colour_range({&temps}, variable_style("2m_temperature"));
  CHECK(t.vmin <= 231.3);
  CHECK(t.vmax >= 305.7);
  CHECK(t.vmin > 200);
  CHECK(t.vmax < 350);
  const std::vector<float> wind{-3.f, 12.5f};
  const ColourRange w = colour_range({&wind}, variable_style("u_component_of_wind"));
  CHECK(w.vmin == -w.vmax);
  CHECK(w.vmax >= 12.5);
  const std::vector<float> rain{0.001f, 0.02f};
  const ColourRange p = colour_range({&rain}, variable_style("total_precipitation_12hr"));
  CHECK(p.vmin == 0);
  CHECK(p.vmax >= 0.02);
  const std::vector<float> flat(10, 0.f);
  const ColourRange z = colour_range({&flat}, VariableStyle{ColourMap::spread, false, true});
  CHECK(z.vmin == 0);
  CHECK(z.vmax > 0);
  CHECK(variable_style("2m_temperature").colours == ColourMap::thermal);
  CHECK(variable_style("vertical_velocity").colours == ColourMap::diverging);
  CHECK(variable_style("geopotential").colours == ColourMap::viridis);
}
