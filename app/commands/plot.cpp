// `gencast-run plot FORECAST.nc [--variable V] [--level HPA] [--lead 5d]
// [--member K] [-o MAP.png]`: a quick-look PNG of a forecast file (ensemble
// mean, spread and one member; lib: runtime/plot_maps.h).
#include <cstdio>
#include <memory>
#include <string>

#include "commands/commands.h"
#include "runtime/plot_maps.h"

namespace gencast::app {

void register_plot_command(CLI::App& root, CommandResult&) {
  auto options = std::make_shared<PlotOptions>();
  auto* cmd = root.add_subcommand(
      "plot", "Write a PNG map of a forecast: ensemble mean, spread and one member");
  cmd->add_option("forecast", options->forecast, "forecast file written by gencast-run")
      ->required();
  cmd->add_option("--variable", options->variable,
                  "variable to draw (default 2m_temperature, or the file's first)");
  cmd->add_option_function<int64_t>(
      "--level", [options](const int64_t& v) { options->level = v; },
      "pressure level in hPa, for level variables (default 500)");
  cmd->add_option("--lead", options->lead,
                  "lead time, e.g. 5d or 36h (default 5d when the file reaches it, else its last)");
  cmd->add_option_function<int64_t>(
      "--member", [options](const int64_t& v) { options->member = v; },
      "member id drawn in the third map (default the file's first)");
  cmd->add_option("-o,--output", options->output,
                  "PNG to write (default FORECAST_VARIABLE[_LEVELhPa]_LEADh.png beside the forecast)");
  cmd->callback([options] {
    const PlotResult r = plot_forecast(*options);
    const std::string level = r.level ? " at " + std::to_string(*r.level) + " hPa" : "";
    std::printf("wrote %s (%s%s, lead %lld h, member %lld%s)\n", r.path.c_str(),
                r.variable.c_str(), level.c_str(), static_cast<long long>(r.lead_hours),
                static_cast<long long>(r.member), r.coastlines ? "" : ", no coastlines");
    std::fflush(stdout);
  });
}

}  // namespace gencast::app
