// Subcommand registration. Each subcommand lives in its own file and adds
// itself to the root CLI11 app; its callback does the work through lib/ and
// returns normally, or throws (main maps exceptions to exit codes).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace gencast::app {

// Set by a command's callback when it wants a non-zero exit without an
// exception (e.g. `verify` found a case out of tolerance).
struct CommandResult {
  int exit_code = 0;
  std::string command_line;  // argv joined, for provenance in output files
};

// An error line on stderr ("error: ..." or a JSON object), as main prints
// the errors that end a command.
void print_error(const std::string& message);

void register_forecast_command(CLI::App& root, CommandResult& result);
void register_check_config_command(CLI::App& root, CommandResult& result);
void register_inspect_command(CLI::App& root, CommandResult& result);
void register_verify_command(CLI::App& root, CommandResult& result);
void register_bench_command(CLI::App& root, CommandResult& result);
void register_make_demo_command(CLI::App& root, CommandResult& result);
void register_plot_command(CLI::App& root, CommandResult& result);
void register_merge_command(CLI::App& root, CommandResult& result);

}  // namespace gencast::app
