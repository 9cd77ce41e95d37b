// `gencast-run forecast [SPEC.yaml] [overrides]`: run an ensemble forecast.
// Without a spec it runs the built-in demo (tiny model shipped in the repo).
// Under mpirun/srun the ranks share the members (commands/mpi_dispatch.h).
#include <memory>
#include <optional>
#include <string>

#include "commands/commands.h"
#include "commands/mpi_dispatch.h"
#include "commands/run_check_print.h"
#include "commands/spec_flags.h"
#include "runtime/forecast_runner.h"
#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"

namespace gencast::app {

void register_forecast_command(CLI::App& root, CommandResult& result) {
  struct Args {
    std::optional<std::string> spec;
    SpecOverrides overrides;
    bool check_only = false;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = root.add_subcommand("forecast", "Run an ensemble forecast (default: the built-in demo)");
  cmd->add_option("spec", args->spec, "run spec (YAML); without it, the built-in demo spec");
  add_spec_override_flags(*cmd, args->overrides);
  cmd->add_flag("--check-config", args->check_only,
                "only validate everything and print what would run (same as check-config)");
  cmd->add_flag("--json", args->json, "with --check-config: print the result as JSON");
  cmd->callback([args, &result] {
    const auto resolve = [args] { return resolve_run_spec(args->spec, args->overrides); };
    const std::optional<int> ranked =
        args->check_only ? check_on_mpi_ranks(resolve, args->json)
                         : forecast_on_mpi_ranks(resolve, result.command_line);
    if (ranked) {
      result.exit_code = *ranked;
      return;
    }
    const RunSpec spec = resolve();
    if (args->check_only) {
      result.exit_code = print_run_check(check_run(spec), to_yaml(spec), args->json);
      return;
    }
    run_forecast(spec, result.command_line);
  });
}

}  // namespace gencast::app
