// Quick-look PNG maps (io/png_map.h, io/colour_map.h, io/gshhg_coastline.h):
// the PNG decodes to the layout's size; cells land where their longitude and
// latitude say (the 0..360 grid wraps onto the -180..180 map, north up); NaN
// cells are grey; the legend and heading hold text; coastlines from Debian's
// GSHHG file are read and drawn; irregular grids are refused.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/colour_map.h"
#include "io/gshhg_coastline.h"
#include "io/png_map.h"
#include "test_temp_dir.h"
#include "unit/test_png_image.h"

using namespace gencast;
using namespace gencast::testing;

namespace {

// A 4 degree global grid like the tiny model's: lat -90..90, lon 0..356.
MapFigure grid_figure(int n_lat = 46) {
  MapFigure f;
  const double d = 180.0 / (n_lat - 1);
  for (int i = 0; i < n_lat; ++i) f.lat.push_back(-90.0 + d * i);
  for (int j = 0; j < 2 * (n_lat - 1); ++j) f.lon.push_back(d * j);
  f.heading = {"2m_temperature (K)", "lead 24 h"};
  f.footnote = {"test"};
  return f;
}

MapPanel random_panel(const MapFigure& f, unsigned seed, ColourMap cmap) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(200.f, 320.f);
  MapPanel p;
  p.title = "panel";
  p.units = "K";
  p.colours = cmap;
  p.vmin = 200;
  p.vmax = 320;
  for (size_t k = 0; k < f.lat.size() * f.lon.size(); ++k) p.values.push_back(u(rng));
  return p;
}

// The pixel of the map box at (lon in -180..180, lat).
std::pair<int, int> map_pixel(const PixelBox& b, double lon, double lat) {
  return {b.x + static_cast<int>((lon + 180.0) / 360.0 * b.w),
          b.y + static_cast<int>((90.0 - lat) / 180.0 * b.h)};
}

}  // namespace

TEST_CASE("colour maps: ends, clamping, and never dark in every channel", "[plot]") {
  for (ColourMap m : {ColourMap::viridis, ColourMap::thermal, ColourMap::humidity,
                      ColourMap::precipitation, ColourMap::spread, ColourMap::diverging}) {
    CAPTURE(colour_map_name(m));
    CHECK(colour_at(m, -1.0) == colour_at(m, 0.0));
    CHECK(colour_at(m, 2.0) == colour_at(m, 1.0));
    CHECK_FALSE(colour_at(m, 0.0) == colour_at(m, 1.0));
    for (int k = 0; k <= 1000; ++k) {
      const Rgb c = colour_at(m, k / 1000.0);
      REQUIRE(std::max({c.r, c.g, c.b}) >= 80);  // text and coastlines stay distinguishable
    }
  }
  // Diverging maps are white-ish in the middle (zero), dark at both ends.
  const Rgb mid = colour_at(ColourMap::diverging, 0.5);
  CHECK(std::min({mid.r, mid.g, mid.b}) > 230);
}

TEST_CASE("nice_ticks: round steps inside the range", "[plot]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-5, 5);
  for (int trial = 0; trial < 200; ++trial) {
    const double scale = std::pow(10.0, std::round(u(rng)));
    double a = u(rng) * scale, b = u(rng) * scale;
    if (a > b) std::swap(a, b);
    if (!(a < b)) continue;
    const auto ticks = nice_ticks(a, b);
    CAPTURE(a, b);
    REQUIRE(ticks.size() >= 3);
    REQUIRE(ticks.size() <= 13);
    const double step = ticks[1] - ticks[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    CHECK((std::fabs(mantissa - 1) < 1e-6 || std::fabs(mantissa - 2) < 1e-6 ||
           std::fabs(mantissa - 5) < 1e-6));
    for (size_t k = 0; k < ticks.size(); ++k) {
      CHECK(ticks[k] >= a - 1e-9 * std::fabs(step));
      CHECK(ticks[k] <= b + 1e-9 * std::fabs(step));
      if (k) CHECK(std::fabs(ticks[k] - ticks[k - 1] - step) < 1e-6 * step);
    }
  }
  CHECK(nice_ticks(1, 1).empty());
  CHECK(nice_ticks(2, 1).empty());
  CHECK(nice_ticks(0, std::nan("")).empty());
}

TEST_CASE("write_map_png: size, colours in the map, text in the legend", "[plot]") {
  TempDir tmp;
  MapFigure f = grid_figure();
  f.panels = {random_panel(f, 1, ColourMap::thermal), random_panel(f, 2, ColourMap::spread)};
  const std::string path = tmp.file("map.png");
  write_map_png(f, path);
  CHECK(tmp.entries() == std::vector<std::string>{"map.png"});  // no temporary left

  const PngImage img = read_png(path);
  const MapFigureLayout lay = map_figure_layout(2);
  REQUIRE(img.width == lay.width);
  REQUIRE(img.height == lay.height);
  for (const auto& p : lay.panels) {
    CHECK(distinct_colours(img, p.map) > 200);
    CHECK(dark_pixels(img, p.legend) > 50);
    CHECK(distinct_colours(img, p.colour_bar) > 50);
  }
  CHECK(dark_pixels(img, lay.heading) > 100);

  // Without units and with no room for ticks the legend holds no text: the
  // check above does look at text.
  MapFigure bare = f;
  for (auto& p : bare.panels) p.units.clear();
  write_map_png(bare, tmp.file("bare.png"));
  const PngImage bare_img = read_png(tmp.file("bare.png"));
  CHECK(dark_pixels(bare_img, lay.panels[0].legend) < dark_pixels(img, lay.panels[0].legend));
}

TEST_CASE("write_map_png: cells go where lon/lat say, NaN is grey", "[plot]") {
  TempDir tmp;
  MapFigure f = grid_figure();
  MapPanel p;
  p.units = "1";
  p.vmin = 0;
  p.vmax = 1;
  p.colours = ColourMap::viridis;
  // East of Greenwich (lon 0..180) 1 in the north, 0.75 in the south; west
  // (180..360) 0 in the north, 0.25 in the south; NaN south of 60S.
  for (double lat : f.lat)
    for (double lon : f.lon) {
      const bool east = lon > 2 && lon < 178, north = lat > 2;
      p.values.push_back(lat < -60 ? std::nanf("")
                                   : east ? (north ? 1.f : 0.75f) : (north ? 0.f : 0.25f));
    }
  // The same picture whatever the panel's place in the figure.
  f.panels = {p, p, p};
  write_map_png(f, tmp.file("map.png"));
  const PngImage img = read_png(tmp.file("map.png"));
  for (const auto& panel : map_figure_layout(3).panels) {
    const PixelBox map = panel.map;
    for (double lat : {45.0, 10.0, -10.0, -45.0}) {
      const bool north = lat > 0;
      const auto [xe, ye] = map_pixel(map, 75, lat);
      CHECK(img.at(xe, ye) == colour_at(ColourMap::viridis, north ? 1 : 0.75));
      const auto [xw, yw] = map_pixel(map, -75, lat);
      CHECK(img.at(xw, yw) == colour_at(ColourMap::viridis, north ? 0 : 0.25));
    }
    const auto [xs, ys] = map_pixel(map, 75, -75);
    CHECK(img.at(xs, ys) == kNoDataColour);
  }
}

TEST_CASE("write_map_png refuses an irregular or regional grid", "[plot]") {
  TempDir tmp;
  MapFigure f = grid_figure();
  f.panels = {random_panel(f, 3, ColourMap::viridis)};
  MapFigure irregular = f;
  irregular.lat[10] += 1.0;
  CHECK_THROWS_AS(write_map_png(irregular, tmp.file("a.png")), InputError);
  MapFigure regional = f;
  regional.lon.pop_back();
  regional.panels[0].values.resize(regional.lat.size() * regional.lon.size());
  CHECK_THROWS_AS(write_map_png(regional, tmp.file("b.png")), InputError);
  MapFigure short_values = f;
  short_values.panels[0].values.pop_back();
  CHECK_THROWS_AS(write_map_png(short_values, tmp.file("c.png")), InputError);
  CHECK(tmp.entries().empty());
}

TEST_CASE("GSHHG coastlines: Debian's crude file is read and drawn", "[plot]") {
  // scripts/setup.sh installs gmt-gshhg-low; the maps use it by default.
  const auto file = find_coastline_file();
  REQUIRE(file.has_value());
  const auto lines = read_gshhg_coastlines(*file);
  REQUIRE(lines.size() > 1000);
  double south = 90, north = -90;
  for (const auto& l : lines) {
    REQUIRE(l.points.size() >= 2);
    for (const auto& pt : l.points) {
      REQUIRE(pt.lon >= l.bin_west - 1e-9);
      REQUIRE(pt.lon <= l.bin_west + 20 + 1e-9);
      REQUIRE(pt.lon <= 360.0 + 1e-9);
      REQUIRE(std::fabs(pt.lat) <= 90.0 + 1e-9);
      south = std::min(south, pt.lat);
      north = std::max(north, pt.lat);
    }
  }
  CHECK(south < -70);  // Antarctica
  CHECK(north > 80);   // Greenland, Svalbard

  // A constant field: the only dark pixels in the map are coastlines, the
  // frame and the graticule (faint, not dark).
  TempDir tmp;
  MapFigure f = grid_figure();
  MapPanel p;
  p.vmin = 0;
  p.vmax = 1;
  p.values.assign(f.lat.size() * f.lon.size(), 0.5f);
  f.panels = {p};
  write_map_png(f, tmp.file("plain.png"));
  f.coastlines = lines;
  write_map_png(f, tmp.file("coast.png"));
  const PixelBox map = map_figure_layout(1).panels[0].map;
  const PixelBox inside{map.x + 2, map.y + 2, map.w - 4, map.h - 4};
  CHECK(dark_pixels(read_png(tmp.file("plain.png")), inside) == 0);
  CHECK(dark_pixels(read_png(tmp.file("coast.png")), inside) > 2000);

  CHECK_THROWS_AS(read_gshhg_coastlines(tmp.file("plain.png")), InputError);
}
