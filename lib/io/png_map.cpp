// Cairo drawing of the quick-look map figure (see png_map.h).
#include "io/png_map.h"

#include <cairo.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <system_error>

#include "core/error.h"

namespace gencast {
namespace {

// ---- layout (pixels) -------------------------------------------------------
constexpr int kWidth = 1000;
constexpr int kHeadingHeight = 66;
constexpr int kTitleHeight = 24;
constexpr int kMapLeft = 50;  // room for the latitude labels
constexpr int kMapWidth = 800;
constexpr int kMapHeight = 400;
constexpr int kLonLabelHeight = 18;
constexpr int kPanelGap = 14;
constexpr int kBarGap = 18;
constexpr int kBarWidth = 16;
constexpr int kBarTop = 20;  // units text sits above the bar
constexpr int kFootnoteHeight = 40;  // two lines
constexpr int kPanelHeight = kTitleHeight + kMapHeight + kLonLabelHeight + kPanelGap;

constexpr double kTextGrey = 0.12;  // near-black text
constexpr double kGridAlpha = 0.25;
// Grid spacing must agree to this fraction of a cell: our grids are float32
// multiples of 0.25 or 1 degree.
constexpr double kRegularTol = 1e-3;

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

void check_surface(cairo_surface_t* s, const char* what) {
  const cairo_status_t status = cairo_surface_status(s);
  if (status != CAIRO_STATUS_SUCCESS)
    throw RuntimeFailure(std::string("cairo: ") + what + ": " + cairo_status_to_string(status));
}

// Equal spacing (in either direction); returns the signed step.
double regular_step(const std::vector<double>& v, const char* name) {
  if (v.size() < 2)
    fail_input("map", name, "at least 2 equally spaced values", std::to_string(v.size()));
  const double step = (v.back() - v.front()) / static_cast<double>(v.size() - 1);
  for (size_t i = 1; i < v.size(); ++i)
    if (std::fabs((v[i] - v[i - 1]) - step) > kRegularTol * std::fabs(step) || step == 0)
      fail_input("map", name, "equally spaced values", "a gap of " + std::to_string(v[i] - v[i - 1]) +
                                                         " after " + std::to_string(v[i - 1]));
  return step;
}

std::string tick_text(double v, double step) {
  // Enough decimals to tell neighbouring ticks apart, no more.
  char buf[32];
  if (v == 0) return "0";
  const double mag = std::fabs(v);
  if (mag >= 1e6 || mag < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else {
    const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 6), v);
  }
  return buf;
}

void set_text(cairo_t* cr, double size, bool bold) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_set_source_rgb(cr, kTextGrey, kTextGrey, kTextGrey);
}

// `text`, cut at a character boundary and ended with "..." when wider than
// `max_width` pixels in the current font.
std::string fit_text(cairo_t* cr, const std::string& text, double max_width) {
  cairo_text_extents_t ext;
  cairo_text_extents(cr, text.c_str(), &ext);
  if (ext.x_advance <= max_width) return text;
  std::string cut = text;
  while (!cut.empty()) {
    // Drop the last UTF-8 character: its continuation bytes, then its lead byte.
    while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xC0) == 0x80) cut.pop_back();
    if (!cut.empty()) cut.pop_back();
    const std::string candidate = cut + "...";
    cairo_text_extents(cr, candidate.c_str(), &ext);
    if (ext.x_advance <= max_width) return candidate;
  }
  return "";
}

enum class Align { left, centre, right };

// Draws `text` with its baseline at y, aligned on x.
void text_at(cairo_t* cr, const std::string& text, double x, double y, Align align = Align::left) {
  cairo_text_extents_t ext;
  cairo_text_extents(cr, text.c_str(), &ext);
  double left = x;
  if (align == Align::centre) left = x - ext.x_advance / 2;
  if (align == Align::right) left = x - ext.x_advance;
  cairo_move_to(cr, left, y);
  cairo_show_text(cr, text.c_str());
}

uint32_t pixel(Rgb c) {
  return (static_cast<uint32_t>(c.r) << 16) | (static_cast<uint32_t>(c.g) << 8) | c.b;
}

double unit_position(double v, double vmin, double vmax) { return (v - vmin) / (vmax - vmin); }

// The grid cells as an image, one pixel per cell, north row first.
Surface cell_image(const MapPanel& panel, size_t n_lat, size_t n_lon, bool lat_ascending) {
  Surface img(cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(n_lon),
                                         static_cast<int>(n_lat)));
  check_surface(img.get(), "creating the cell image");
  cairo_surface_flush(img.get());
  unsigned char* data = cairo_image_surface_get_data(img.get());
  const int stride = cairo_image_surface_get_stride(img.get());
  for (size_t r = 0; r < n_lat; ++r) {
    const size_t i = lat_ascending ? n_lat - 1 - r : r;
    auto* row = reinterpret_cast<uint32_t*>(data + static_cast<ptrdiff_t>(r) * stride);
    for (size_t j = 0; j < n_lon; ++j) {
      const float v = panel.values[i * n_lon + j];
      row[j] = pixel(std::isnan(v) ? kNoDataColour
                                   : colour_at(panel.colours, unit_position(v, panel.vmin, panel.vmax)));
    }
  }
  cairo_surface_mark_dirty(img.get());
  return img;
}

// Longitude/latitude -> pixel inside the map box.
double map_x(const PixelBox& b, double lon) { return b.x + (lon + 180.0) / 360.0 * b.w; }
double map_y(const PixelBox& b, double lat) { return b.y + (90.0 - lat) / 180.0 * b.h; }

void draw_map(cairo_t* cr, const MapFigure& fig, const MapPanel& panel, const PixelBox& box,
              double dlat, double dlon) {
  const size_t n_lat = fig.lat.size(), n_lon = fig.lon.size();
  const bool ascending = dlat > 0;
  Surface img = cell_image(panel, n_lat, n_lon, ascending);
  const double lat_top = std::max(fig.lat.front(), fig.lat.back()) + std::fabs(dlat) / 2;

  cairo_save(cr);
  cairo_rectangle(cr, box.x, box.y, box.w, box.h);
  cairo_clip(cr);
  // Pattern space = cell image pixels: x = (lon - west edge of cell 0) / dlon,
  // y = (top edge - lat) / |dlat|. The image repeats every 360 degrees, which
  // wraps the grid's 0..360 longitudes onto the -180..180 map.
  cairo_pattern_t* pattern = cairo_pattern_create_for_surface(img.get());
  cairo_pattern_set_filter(pattern, CAIRO_FILTER_NEAREST);
  cairo_pattern_set_extend(pattern, CAIRO_EXTEND_REPEAT);
  cairo_matrix_t m;
  const double deg_per_px_x = 360.0 / box.w, deg_per_px_y = 180.0 / box.h;
  const double west = fig.lon.front() - dlon / 2;
  // lon(px) = -180 + (px - box.x) * deg_per_px_x; lat(py) = 90 - (py - box.y) * deg_per_px_y
  cairo_matrix_init(&m, deg_per_px_x / dlon, 0, 0, deg_per_px_y / std::fabs(dlat),
                    (-180.0 - box.x * deg_per_px_x - west) / dlon,
                    (lat_top - 90.0 - box.y * deg_per_px_y) / std::fabs(dlat));
  cairo_pattern_set_matrix(pattern, &m);
  cairo_set_source(cr, pattern);
  cairo_paint(cr);
  cairo_pattern_destroy(pattern);

  // Graticule every 30 degrees, faint.
  cairo_set_source_rgba(cr, 0, 0, 0, kGridAlpha);
  cairo_set_line_width(cr, 0.6);
  for (int lon = -150; lon < 180; lon += 30) {
    cairo_move_to(cr, map_x(box, lon), box.y);
    cairo_line_to(cr, map_x(box, lon), box.y + box.h);
  }
  for (int lat = -60; lat <= 60; lat += 30) {
    cairo_move_to(cr, box.x, map_y(box, lat));
    cairo_line_to(cr, box.x + box.w, map_y(box, lat));
  }
  cairo_stroke(cr);

  // Coastlines: each polyline lies inside one GSHHG bin, so shifting a whole
  // line by -360 when its bin starts at or east of 180 keeps it in one piece.
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_set_line_width(cr, 0.8);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (const auto& line : fig.coastlines) {
    const double shift = line.bin_west >= 180.0 ? -360.0 : 0.0;
    cairo_move_to(cr, map_x(box, line.points[0].lon + shift), map_y(box, line.points[0].lat));
    for (size_t k = 1; k < line.points.size(); ++k)
      cairo_line_to(cr, map_x(box, line.points[k].lon + shift), map_y(box, line.points[k].lat));
    cairo_new_sub_path(cr);
  }
  cairo_stroke(cr);
  cairo_restore(cr);

  cairo_set_source_rgb(cr, kTextGrey, kTextGrey, kTextGrey);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, box.x + 0.5, box.y + 0.5, box.w - 1, box.h - 1);
  cairo_stroke(cr);

  set_text(cr, 10, false);
  for (int lat = -60; lat <= 60; lat += 30) {
    const std::string t = lat == 0 ? "0°" : std::to_string(std::abs(lat)) + (lat > 0 ? "°N" : "°S");
    text_at(cr, t, box.x - 4, map_y(box, lat) + 3.5, Align::right);
  }
  for (int lon = -120; lon <= 120; lon += 60) {
    const std::string t = lon == 0 ? "0°" : std::to_string(std::abs(lon)) + (lon > 0 ? "°E" : "°W");
    text_at(cr, t, map_x(box, lon), box.y + box.h + 13, Align::centre);
  }
}

void draw_colour_bar(cairo_t* cr, const MapPanel& panel, const MapPanelLayout& lay) {
  const PixelBox& bar = lay.colour_bar;
  for (int k = 0; k < bar.h; ++k) {
    // Row k from the top shows the value at the row's centre.
    const double t = 1.0 - (k + 0.5) / bar.h;
    const Rgb c = colour_at(panel.colours, t);
    cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
    cairo_rectangle(cr, bar.x, bar.y + k, bar.w, 1);
    cairo_fill(cr);
  }
  cairo_set_source_rgb(cr, kTextGrey, kTextGrey, kTextGrey);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, bar.x + 0.5, bar.y + 0.5, bar.w - 1, bar.h - 1);
  cairo_stroke(cr);

  const std::vector<double> ticks = nice_ticks(panel.vmin, panel.vmax);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  set_text(cr, 11, false);
  for (double v : ticks) {
    const double y = bar.y + bar.h * (1.0 - unit_position(v, panel.vmin, panel.vmax));
    cairo_move_to(cr, bar.x + bar.w, y);
    cairo_line_to(cr, bar.x + bar.w + 4, y);
    cairo_stroke(cr);
    text_at(cr, tick_text(v, step), bar.x + bar.w + 7, y + 4);
  }
  set_text(cr, 12, true);
  text_at(cr, fit_text(cr, panel.units, lay.legend.w - 4), bar.x, lay.legend.y + 12);
}

}  // namespace

MapFigureLayout map_figure_layout(size_t panels) {
  MapFigureLayout l;
  l.width = kWidth;
  l.heading = {0, 0, kWidth, kHeadingHeight};
  int y = kHeadingHeight;
  for (size_t p = 0; p < panels; ++p) {
    MapPanelLayout pl;
    pl.title = {kMapLeft, y, kMapWidth, kTitleHeight};
    pl.map = {kMapLeft, y + kTitleHeight, kMapWidth, kMapHeight};
    const int bar_x = kMapLeft + kMapWidth + kBarGap;
    pl.colour_bar = {bar_x, pl.map.y + kBarTop, kBarWidth, kMapHeight - kBarTop};
    pl.legend = {bar_x, pl.map.y, kWidth - bar_x, kMapHeight + 6};
    l.panels.push_back(pl);
    y += kPanelHeight;
  }
  l.footnote = {0, y, kWidth, kFootnoteHeight};
  l.height = y + kFootnoteHeight;
  return l;
}

std::vector<double> nice_ticks(double vmin, double vmax, int target) {
  std::vector<double> ticks;
  if (!std::isfinite(vmin) || !std::isfinite(vmax) || !(vmin < vmax) || target < 2) return ticks;
  // The largest step of 1, 2 or 5 x 10^k giving at least target/2 + 1 ticks:
  // neighbouring steps differ by at most 2.5x, so this also stays near target.
  const int min_count = target / 2 + 1;
  const double top = std::floor(std::log10(vmax - vmin));
  const auto count_for = [&](double step) {
    return std::floor(vmax / step + 1e-9) - std::ceil(vmin / step - 1e-9) + 1;
  };
  double step = 0;
  for (double e = top + 1; e >= top - 3 && step == 0; e -= 1)
    for (double f : {5.0, 2.0, 1.0}) {
      const double candidate = f * std::pow(10.0, e);
      if (count_for(candidate) >= min_count) {
        step = candidate;
        break;
      }
    }
  if (step == 0) return ticks;
  const double first = std::ceil(vmin / step - 1e-9);
  for (double k = first;; k += 1) {
    const double v = k * step;
    if (v > vmax + step * 1e-9) break;
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

void write_map_png(const MapFigure& fig, const std::string& path) {
  if (fig.panels.empty()) throw std::invalid_argument("write_map_png: no panels");
  const double dlat = regular_step(fig.lat, "lat");
  const double dlon = regular_step(fig.lon, "lon");
  if (dlon < 0 || std::fabs(dlon * static_cast<double>(fig.lon.size()) - 360.0) > kRegularTol * 360)
    fail_input("map", "lon", "ascending longitudes covering 360 degrees (a global grid)",
               std::to_string(fig.lon.size()) + " longitudes " + std::to_string(dlon) + " apart");
  const size_t cells = fig.lat.size() * fig.lon.size();
  for (const auto& p : fig.panels) {
    if (p.values.size() != cells)
      fail_input("map", p.title, std::to_string(cells) + " values (lat x lon)",
                 std::to_string(p.values.size()));
    if (!(p.vmin < p.vmax))
      throw std::invalid_argument("write_map_png: colour range must have vmin < vmax");
  }

  const MapFigureLayout lay = map_figure_layout(fig.panels.size());
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, lay.width, lay.height));
  check_surface(surface.get(), "creating the image");
  Context ctx(cairo_create(surface.get()));
  cairo_t* cr = ctx.get();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  const double text_width = lay.width - kMapLeft - 10;
  for (size_t k = 0; k < std::min<size_t>(2, fig.heading.size()); ++k) {
    set_text(cr, k == 0 ? 18 : 13, k == 0);
    text_at(cr, fit_text(cr, fig.heading[k], text_width), kMapLeft,
            26 + 20.0 * static_cast<double>(k));
  }
  for (size_t p = 0; p < fig.panels.size(); ++p) {
    const MapPanelLayout& pl = lay.panels[p];
    set_text(cr, 14, true);
    text_at(cr, fit_text(cr, fig.panels[p].title, pl.title.w), pl.title.x, pl.title.y + 17);
    draw_map(cr, fig, fig.panels[p], pl.map, dlat, dlon);
    draw_colour_bar(cr, fig.panels[p], pl);
  }
  set_text(cr, 10, false);
  for (size_t k = 0; k < std::min<size_t>(2, fig.footnote.size()); ++k)
    text_at(cr, fit_text(cr, fig.footnote[k], text_width), kMapLeft,
            lay.footnote.y + 15 + 14.0 * static_cast<double>(k));
  cairo_surface_flush(surface.get());
  check_surface(surface.get(), "drawing");

  const std::string temp = path + ".partial-" + std::to_string(::getpid());
  const cairo_status_t status = cairo_surface_write_to_png(surface.get(), temp.c_str());
  std::error_code ec;
  if (status != CAIRO_STATUS_SUCCESS) {
    std::filesystem::remove(temp, ec);
    throw RuntimeFailure("cannot write " + path + ": " + cairo_status_to_string(status));
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(temp, ec);
    throw RuntimeFailure("cannot rename " + temp + " to " + path + ": " + why);
  }
}

}  // namespace gencast
