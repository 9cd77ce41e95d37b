#include "runtime/launcher_env.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace gencast {
namespace {

// A non-negative integer variable, or -1 when absent or not a number.
int int_var(const EnvLookup& env, const char* name) {
  const char* text = env(name);
  if (text == nullptr || *text == '\0') return -1;
  int value = -1;
  const char* end = text + std::strlen(text);
  const auto res = std::from_chars(text, end, value);
  return res.ec == std::errc() && res.ptr == end && value >= 0 ? value : -1;
}

}  // namespace

LauncherEnv detect_launcher(const EnvLookup& lookup) {
  const EnvLookup env = lookup ? lookup : EnvLookup([](const char* name) { return std::getenv(name); });
  LauncherEnv out;
  out.slurm_tasks = std::max(0, int_var(env, "SLURM_STEP_NUM_TASKS"));
  if (int size = int_var(env, "OMPI_COMM_WORLD_SIZE"); size >= 0) {
    out = {true, size, int_var(env, "OMPI_COMM_WORLD_RANK"), "mpirun (Open MPI)", out.slurm_tasks};
  } else if (size = int_var(env, "PMI_SIZE"); size >= 0) {
    out = {true, size, int_var(env, "PMI_RANK"), "PMI", out.slurm_tasks};
  } else if (int rank = int_var(env, "PMIX_RANK"); rank >= 0) {
    out = {true, 0, rank, "PMIx", out.slurm_tasks};
  }
  return out;
}

std::string launcher_problem(const LauncherEnv& launcher, bool built_with_mpi, int mpi_size) {
  const int copies = std::max(launcher.size, launcher.slurm_tasks);
  if (!built_with_mpi && copies > 1)
    return "started as one of " + std::to_string(copies) + " copies (" +
           (launcher.mpi ? launcher.launcher : std::string("srun")) +
           "), but this gencast-run was built without MPI: every copy would compute the whole "
           "forecast into the same file. Rebuild with Open MPI (scripts/setup.sh, cmake "
           "-DGENCAST_MPI=ON), or run one copy per job with --member-ids and `gencast-run merge`";
  const int seen = launcher.mpi ? mpi_size : 1;
  if (built_with_mpi && launcher.slurm_tasks > 1 && seen == 1)
    return "srun started " + std::to_string(launcher.slurm_tasks) +
           " tasks, but MPI sees each as a run of its own (no MPI plugin connected them): "
           "every task would compute the whole forecast. Use srun --mpi=pmix (or pmi2; "
           "`srun --mpi=list` shows what your Slurm offers)";
  return "";
}

}  // namespace gencast
