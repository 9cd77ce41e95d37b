#include "commands/mpi_dispatch.h"

#include "commands/commands.h"
#include "commands/run_check_print.h"
#include "core/error.h"
#include "core/version.h"
#include "runtime/launcher_env.h"

#if GENCAST_WITH_MPI
#include "cluster/mpi_forecast.h"
#endif

namespace gencast::app {
namespace {

// True when launched as MPI ranks this build can serve; refuses launches
// that would run the whole forecast several times over.
bool launched_as_ranks() {
  const LauncherEnv launcher = detect_launcher();
  const std::string problem = launcher_problem(launcher, kBuiltWithMpi, 0);
  if (!problem.empty())
    fail_input("command line", "launcher", "one process, or the ranks of one MPI job", problem);
  return kBuiltWithMpi && launcher.mpi;
}

}  // namespace

std::optional<int> forecast_on_mpi_ranks(const std::function<RunSpec()>& resolve_spec,
                                         const std::string& command_line) {
  if (!launched_as_ranks()) return std::nullopt;
#if GENCAST_WITH_MPI
  const RankOutcome outcome = forecast_on_ranks(resolve_spec, command_line);
  if (!outcome.error.empty()) print_error(outcome.error);
  return outcome.exit_code;
#else
  (void)resolve_spec;
  (void)command_line;
  return std::nullopt;
#endif
}

std::optional<int> check_on_mpi_ranks(const std::function<RunSpec()>& resolve_spec, bool json) {
  if (!launched_as_ranks()) return std::nullopt;
#if GENCAST_WITH_MPI
  const RankCheck result = check_on_ranks(resolve_spec);
  if (!result.outcome.error.empty()) print_error(result.outcome.error);
  if (result.check) print_run_check(*result.check, result.resolved_yaml, json);
  return result.outcome.exit_code;
#else
  (void)resolve_spec;
  (void)json;
  return std::nullopt;
#endif
}

}  // namespace gencast::app
