// Placeholder registration; replaced as the command is implemented.
#include "commands/commands.h"
#include "core/error.h"

namespace gencast::app {

void register_check_config_command(CLI::App& root, CommandResult&) {
  auto* cmd = root.add_subcommand("check-config", "(not implemented yet)");
  cmd->callback([] { throw RuntimeFailure("check-config: not implemented yet"); });
}

}  // namespace gencast::app
