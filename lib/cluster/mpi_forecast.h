// `mpirun -n N gencast-run forecast SPEC` / `srun gencast-run forecast SPEC`:
// one forecast shared by MPI ranks, one ensemble file at the end.
//
// Design (measured in BENCHMARKS.md): each rank runs its block of member
// groups (runtime/rank_plan.h) with the ordinary single-process forecast
// into a part file next to the output (`OUTPUT.rankR-of-N.part`,
// uncompressed: written at disk speed and read back without inflating),
// then rank 0 merges the parts into the output (runtime/forecast_merge.h,
// the same code as `gencast-run merge`, with the run's format and
// compression) and every rank removes its part. Parallel NetCDF-4 was the
// alternative: Debian's parallel netCDF is a separate libnetcdf built on the
// MPI HDF5, while this process links the serial libnetcdf and
// libhdf5_serial, and one process cannot load both HDF5s — every build,
// the one-process runs included, would have to move to the MPI HDF5. Parts
// keep the one-process code path for the values (the ensemble contract) and
// cost one extra pass over the data at the end. The output folder must be
// visible to every rank (a shared file system, as for any MPI job writing
// one file).
//
// Any rank's failure (an input error on one node, a missing GPU, a signal)
// ends every rank with a non-zero exit and no output (cluster/rank_phases.h).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "cluster/rank_outcome.h"
#include "runtime/forecast_runner.h"
#include "spec/run_spec.h"

namespace gencast {

// The part file of `rank` for `output`.
std::string rank_part_path(const std::string& output, int rank, int size);

// Both entry points start MPI (MPI_Init ... MPI_Finalize) for their
// duration; call them only when a launcher started the process
// (runtime/launcher_env.h). `resolve_spec` (the same on every rank) is called
// inside the first step, so that a spec error ends every rank alike and is
// printed once.

// Runs the forecast on every rank.
RankOutcome forecast_on_ranks(const std::function<RunSpec()>& resolve_spec,
                              const std::string& command_line);

// check-config under mpirun: every rank checks its share (its devices, its
// node's files), rank 0 gets the whole plan — the ranks, each rank's members
// and devices — and every problem found on any rank.
struct RankCheck {
  RankOutcome outcome;          // a failure to even check (e.g. the spec)
  std::optional<RunCheck> check;  // at rank 0
  std::string resolved_yaml;      // at rank 0
};
RankCheck check_on_ranks(const std::function<RunSpec()>& resolve_spec);

}  // namespace gencast
