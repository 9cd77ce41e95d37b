// Quick-look maps of a forecast file (see plot_maps.h).
#include "runtime/plot_maps.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/text.h"
#include "io/cf_metadata.h"
#include "io/forecast_reader.h"
#include "io/gshhg_coastline.h"
#include "io/netcdf_util.h"
#include "runtime/plot_style.h"
#include "spec/run_spec.h"
#include "spec/spec_loader.h"

namespace gencast {
namespace {

namespace fs = std::filesystem;

std::string hours_text(int64_t h) { return std::to_string(h) + "h"; }

std::string lead_words(int64_t hours) {
  std::string s = "+" + std::to_string(hours) + " h";
  if (hours % 24 == 0) s += " (" + std::to_string(hours / 24) + " d)";
  return s;
}

// The variables of the file, in file order, each once.
std::vector<std::string> file_variables(const ForecastOutputSpec& s) {
  std::vector<std::string> names;
  for (const auto& c : s.channels)
    if (std::find(names.begin(), names.end(), c.variable) == names.end()) names.push_back(c.variable);
  return names;
}

struct Choice {
  std::string variable;
  int channel = -1;
  std::optional<int64_t> level;
  int lead_index = -1;
  int member_index = -1;
};

Choice choose(const PlotOptions& o, const ForecastOutputSpec& s) {
  const std::string& file = o.forecast;
  Choice c;
  const std::vector<std::string> variables = file_variables(s);
  c.variable = o.variable;
  if (c.variable.empty())
    c.variable = std::find(variables.begin(), variables.end(), kDefaultPlotVariable) != variables.end()
                     ? std::string(kDefaultPlotVariable)
                     : variables.front();
  if (std::find(variables.begin(), variables.end(), c.variable) == variables.end())
    fail_input(file, "--variable", "one of the file's variables: " + join(variables),
               "'" + c.variable + "'");

  std::vector<int> channels;  // of the variable, one per level (or one)
  for (size_t k = 0; k < s.channels.size(); ++k)
    if (s.channels[k].variable == c.variable) channels.push_back(static_cast<int>(k));
  const bool has_levels = s.channels[static_cast<size_t>(channels.front())].level >= 0;
  if (!has_levels) {
    if (o.level)
      fail_input(file, "--level", "no --level: " + c.variable + " is a surface variable",
                 std::to_string(*o.level) + " hPa");
    c.channel = channels.front();
  } else {
    std::vector<int64_t> levels;
    for (int k : channels) levels.push_back(s.levels[static_cast<size_t>(s.channels[static_cast<size_t>(k)].level)]);
    int64_t want = o.level.value_or(kDefaultPlotLevel);
    if (!o.level && std::find(levels.begin(), levels.end(), want) == levels.end()) want = levels.front();
    const auto it = std::find(levels.begin(), levels.end(), want);
    if (it == levels.end())
      fail_input(file, "--level", "one of the levels of " + c.variable + " (hPa): " + join_numbers(levels),
                 std::to_string(want));
    c.channel = channels[static_cast<size_t>(it - levels.begin())];
    c.level = want;
  }

  std::vector<std::string> leads;
  for (int64_t h : s.lead_hours) leads.push_back(hours_text(h));
  int64_t lead_hours = s.lead_hours.back();
  if (!o.lead.empty()) {
    lead_hours = lead_time_to_steps(o.lead, file, "--lead") * kHoursPerStep;
  } else if (std::find(s.lead_hours.begin(), s.lead_hours.end(), kDefaultPlotLeadHours) !=
             s.lead_hours.end()) {
    lead_hours = kDefaultPlotLeadHours;
  }
  const auto lt = std::find(s.lead_hours.begin(), s.lead_hours.end(), lead_hours);
  if (lt == s.lead_hours.end())
    fail_input(file, "--lead", "one of the file's lead times: " + join(leads), "'" + o.lead + "'");
  c.lead_index = static_cast<int>(lt - s.lead_hours.begin());

  const int64_t member = o.member.value_or(s.member_ids.front());
  const auto mt = std::find(s.member_ids.begin(), s.member_ids.end(), member);
  if (mt == s.member_ids.end())
    fail_input(file, "--member", "one of the file's members: " + join_numbers(s.member_ids, ", "),
               std::to_string(member));
  c.member_index = static_cast<int>(mt - s.member_ids.begin());
  return c;
}

void check_output(const std::string& output, const std::string& forecast) {
  if (output.size() < 5 || output.substr(output.size() - 4) != ".png")
    fail_input("command line", "-o", "a PNG file name ending in .png", "'" + output + "'");
  std::error_code ec;
  if (fs::is_directory(output, ec))
    fail_input(output, "-o", "a PNG file name", "a folder");
  const fs::path parent = fs::absolute(output).parent_path();
  if (!fs::is_directory(parent, ec))
    fail_input(output, "-o", "a file in an existing folder", "no folder " + parent.string());
  if (fs::exists(output, ec) && fs::equivalent(output, forecast, ec))
    fail_input(output, "-o", "a PNG other than the forecast file", "the forecast file itself");
}

// Mean and population standard deviation over members, per cell; NaN where
// any member is NaN. Two passes (mean first) for an accurate spread.
void ensemble_stats(const std::vector<std::vector<float>>& members, std::vector<float>& mean,
                    std::vector<float>& spread) {
  const size_t n = members.front().size();
  const auto count = static_cast<double>(members.size());
  mean.assign(n, 0.f);
  spread.assign(n, 0.f);
  for (size_t g = 0; g < n; ++g) {
    double sum = 0;
    for (const auto& m : members) sum += m[g];
    const double mu = sum / count;
    double sq = 0;
    for (const auto& m : members) sq += (m[g] - mu) * (m[g] - mu);
    mean[g] = static_cast<float>(mu);  // NaN propagates through sum and sq
    spread[g] = static_cast<float>(std::sqrt(sq / count));
  }
}

}  // namespace

std::string default_plot_path(const std::string& forecast, const std::string& variable,
                              std::optional<int64_t> level, int64_t lead_hours) {
  fs::path p(forecast);
  std::string stem = p.filename().string();
  if (p.extension() == ".nc") stem = p.stem().string();
  // Appended piece by piece: GCC 12 misreads `"_" + std::to_string(...)` here
  // as an overlapping copy (-Wrestrict).
  stem.append("_").append(variable);
  if (level) stem.append("_").append(std::to_string(*level)).append("hPa");
  stem.append("_").append(std::to_string(lead_hours)).append("h.png");
  return (p.parent_path() / stem).string();
}

PlotFigure make_plot_figure(const PlotOptions& options) {
  const ForecastReader reader(options.forecast);
  const ForecastOutputSpec& s = reader.info().spec;
  const Choice c = choose(options, s);
  PlotFigure out;
  PlotResult& result = out.result;
  result.variable = c.variable;
  result.level = c.level;
  result.lead_hours = s.lead_hours[static_cast<size_t>(c.lead_index)];
  result.member = s.member_ids[static_cast<size_t>(c.member_index)];
  result.path = options.output.empty()
                    ? default_plot_path(options.forecast, c.variable, c.level, result.lead_hours)
                    : options.output;
  check_output(result.path, options.forecast);

  const size_t cells = s.lat.size() * s.lon.size();
  std::vector<std::vector<float>> members(s.member_ids.size(), std::vector<float>(cells));
  for (size_t m = 0; m < members.size(); ++m)
    reader.read_field(static_cast<int>(m), c.lead_index, c.channel, members[m].data());
  std::vector<float> mean, spread;
  ensemble_stats(members, mean, spread);
  const std::vector<float>& one = members[static_cast<size_t>(c.member_index)];

  const auto cf = cf_metadata_for(c.variable);
  const std::string units = cf ? cf->units : "";
  const VariableStyle style = variable_style(c.variable);
  const ColourRange range = colour_range({&mean, &one}, style);
  const ColourRange spread_range =
      colour_range({&spread}, VariableStyle{ColourMap::spread, false, true});
  const std::string n_members = std::to_string(members.size()) +
                                (members.size() == 1 ? " member" : " members");

  MapFigure& fig = out.figure;
  fig.lat.assign(s.lat.begin(), s.lat.end());
  fig.lon.assign(s.lon.begin(), s.lon.end());
  std::string name = c.variable;
  if (c.level) name += " at " + std::to_string(*c.level) + " hPa";
  if (cf && !cf->long_name.empty()) name += "  (" + cf->long_name + ")";
  if (!units.empty()) name += "  [" + units + "]";
  fig.heading = {name, "lead " + lead_words(result.lead_hours) + ", valid " +
                           format_iso_time(s.init_time_s + result.lead_hours * 3600) +
                           " UTC, init " + format_iso_time(s.init_time_s) + " UTC, " + n_members};
  fig.panels.push_back({"Ensemble mean of " + n_members, mean, style.colours, range.vmin, range.vmax, units});
  fig.panels.push_back({"Ensemble spread (standard deviation over " + n_members + ")", spread,
                        ColourMap::spread, spread_range.vmin, spread_range.vmax, units});
  fig.panels.push_back({"Member " + std::to_string(result.member), one, style.colours, range.vmin,
                        range.vmax, units});

  std::string credit = "no coastlines (install Debian's gmt-gshhg-low, or set GENCAST_COASTLINE_FILE)";
  if (const auto coast = find_coastline_file()) {
    fig.coastlines = read_gshhg_coastlines(*coast);
    credit = kCoastlineCredit;
    result.coastlines = true;
  } else {
    spdlog::info("plot: no coastline file found; drawing maps without coastlines");
  }
  const std::string model = s.model_description.substr(0, s.model_description.find('\n'));
  fig.footnote = {fs::path(options.forecast).filename().string() +
                      (model.empty() ? std::string() : ": " + model),
                  "plate carree, 180W-180E; " + credit};
  return out;
}

PlotResult plot_forecast(const PlotOptions& options) {
  const PlotFigure plot = make_plot_figure(options);
  write_map_png(plot.figure, plot.result.path);
  return plot.result;
}

}  // namespace gencast
