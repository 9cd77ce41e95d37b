// `gencast-run check-config SPEC.yaml [overrides]`: validate the spec, the
// checkpoint, the stats, the input file, the output folder and the device
// together without running the model. Exit 0 when a forecast would start,
// 2 with every problem listed otherwise.
#include <memory>
#include <optional>
#include <string>

#include "commands/commands.h"
#include "commands/mpi_dispatch.h"
#include "commands/run_check_print.h"
#include "commands/spec_flags.h"
#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"

namespace gencast::app {

void register_check_config_command(CLI::App& root, CommandResult& result) {
  struct Args {
    std::optional<std::string> spec;
    SpecOverrides overrides;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = root.add_subcommand(
      "check-config", "Validate spec, checkpoint, stats, input, output and device without running");
  cmd->add_option("spec", args->spec, "run spec (YAML); without it, the built-in demo spec");
  add_spec_override_flags(*cmd, args->overrides);
  cmd->add_flag("--json", args->json, "print the result as one JSON object");
  cmd->callback([args, &result] {
    const auto resolve = [args] { return resolve_run_spec(args->spec, args->overrides); };
    if (const std::optional<int> ranked = check_on_mpi_ranks(resolve, args->json)) {
      result.exit_code = *ranked;
      return;
    }
    const RunSpec spec = resolve();
    result.exit_code = print_run_check(check_run(spec), to_yaml(spec), args->json);
  });
}

}  // namespace gencast::app
