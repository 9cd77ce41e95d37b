// `gencast-run plot` and `forecast --plot`: a quick-look PNG of one variable
// of a forecast file we wrote (either layout) at one lead time: the ensemble
// mean, the ensemble spread (standard deviation over the members, ddof 0 as
// xarray's .std()) and one member, each with a colour bar and units, under a
// heading with the variable, level, lead, valid and init times; coastlines
// from GSHHG when the Debian package is installed (io/gshhg_coastline.h).
//
// Invariants:
//  - Every choice is checked before anything is drawn; a variable, level,
//    lead or member the file does not have is an InputError listing what the
//    file has. The output must end in .png (so a typo cannot overwrite the
//    forecast); an existing PNG is replaced.
//  - The PNG appears complete or not at all (io/png_map.h).
//  - Cells where any member is NaN (sea surface temperature over land) are
//    NaN in the mean and spread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/png_map.h"

namespace gencast {

inline constexpr const char* kDefaultPlotVariable = "2m_temperature";
// The lead shown by default when the file reaches it: day 5, the usual
// medium-range quick look (at 15 days the ensemble mean is nearly climatology).
inline constexpr int64_t kDefaultPlotLeadHours = 120;
// The level shown by default for pressure-level variables.
inline constexpr int64_t kDefaultPlotLevel = 500;

struct PlotOptions {
  std::string forecast;       // forecast file written by gencast-run
  std::string variable;       // "" = 2m_temperature, or the file's first variable without it
  std::optional<int64_t> level;  // hPa; default 500 (or the first level) for level variables
  std::string lead;           // "5d", "120h"; "" = 120 h when the file has it, else its last lead
  std::optional<int64_t> member;  // member id (the file's coordinate value); default its first
  std::string output;         // PNG path; "" = default_plot_path(...) next to the forecast
};

struct PlotResult {
  std::string path;  // the PNG written
  std::string variable;
  std::optional<int64_t> level;
  int64_t lead_hours = 0;
  int64_t member = 0;
  bool coastlines = false;  // whether coastlines were drawn
};

// "<forecast without .nc>_<variable>[_<level>hPa]_<lead>h.png", in the
// forecast's folder.
std::string default_plot_path(const std::string& forecast, const std::string& variable,
                              std::optional<int64_t> level, int64_t lead_hours);

struct PlotFigure {
  MapFigure figure;  // panels: mean, spread, member
  PlotResult result;
};

// Reads the file and assembles the figure (checks every option and the
// output name first; draws nothing).
PlotFigure make_plot_figure(const PlotOptions& options);

// make_plot_figure, then the PNG.
PlotResult plot_forecast(const PlotOptions& options);

}  // namespace gencast
