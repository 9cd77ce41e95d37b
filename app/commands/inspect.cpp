// Placeholder registration; replaced as the command is implemented.
#include "commands/commands.h"
#include "core/error.h"

namespace gencast::app {

void register_inspect_command(CLI::App& root, CommandResult&) {
  auto* cmd = root.add_subcommand("inspect", "(not implemented yet)");
  cmd->callback([] { throw RuntimeFailure("inspect: not implemented yet"); });
}

}  // namespace gencast::app
