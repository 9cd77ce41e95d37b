// forecast and check-config as ranks of an MPI job (mpirun, srun): used when
// a launcher started this process (runtime/launcher_env.h), in builds with
// MPI (cluster/). Everything else runs the ordinary one-process path.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "spec/run_spec.h"

namespace gencast::app {

// nullopt: not launched by an MPI launcher, run the ordinary path. Else the
// exit code of this rank, after the ranks ran the forecast together.
// InputError when the launch cannot work (several copies without MPI).
std::optional<int> forecast_on_mpi_ranks(const std::function<RunSpec()>& resolve_spec,
                                         const std::string& command_line);
// The same for check-config; rank 0 prints the plan of every rank.
std::optional<int> check_on_mpi_ranks(const std::function<RunSpec()>& resolve_spec, bool json);

}  // namespace gencast::app
