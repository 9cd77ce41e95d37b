// Placeholder registration; replaced as the command is implemented.
#include "commands/commands.h"
#include "core/error.h"

namespace gencast::app {

void register_forecast_command(CLI::App& root, CommandResult&) {
  auto* cmd = root.add_subcommand("forecast", "(not implemented yet)");
  cmd->callback([] { throw RuntimeFailure("forecast: not implemented yet"); });
}

}  // namespace gencast::app
