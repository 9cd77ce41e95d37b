// Printing a RunCheck (what will run, or every problem) as text or JSON;
// shared by `check-config` and `forecast --check-config`.
#pragma once

#include "runtime/forecast_runner.h"

namespace gencast::app {

// Prints the check; returns the exit code (0 ok, 2 problems found).
int print_run_check(const RunCheck& check, const std::string& resolved_yaml, bool json);

}  // namespace gencast::app
