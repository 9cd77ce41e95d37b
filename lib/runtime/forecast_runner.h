// The forecast pipeline: run spec -> (checkpoint, stats, input) -> graphs and
// parameters on the device -> for each member, an autoregressive rollout of
// 12 h sampler steps -> physical fields -> NetCDF. The runner never knows the
// file format details (io/forecast_writer) or the device (backend/).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "spec/run_spec.h"

namespace gencast {

// What check-config found: every problem, and (key, value) lines describing
// the run that would happen.
struct RunCheck {
  std::vector<Problem> problems;
  std::vector<std::pair<std::string, std::string>> plan;
  bool ok() const { return problems.empty(); }
};

// Validates spec, checkpoint, stats, input, output and device together
// without running the model.
RunCheck check_run(const RunSpec& spec);

struct ForecastResult {
  std::string output_path;
  double seconds = 0;
  int64_t member_steps = 0;
  std::string plot_path;  // the quick-look PNG (output.plot), else ""
};

// Runs the forecast; the output file appears only when everything succeeded.
ForecastResult run_forecast(const RunSpec& spec, const std::string& command_line);

}  // namespace gencast
