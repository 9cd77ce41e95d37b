// Was this process started by an MPI launcher? Read from the environment the
// launchers set, before (and without) calling MPI, so that a plain
// `gencast-run forecast` never initialises MPI, and so that a build without
// MPI can refuse to run as one of several ranks (each would compute the whole
// forecast into the same file).
//
//   Open MPI mpirun/mpiexec: OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_RANK
//   PMI-1/2 (MPICH, srun --mpi=pmi2): PMI_SIZE, PMI_RANK
//   PMIx (srun --mpi=pmix, Open MPI 5): PMIX_RANK (the size comes from MPI)
//   srun without an MPI plugin: only SLURM_STEP_NUM_TASKS (> 1: several
//   copies that cannot talk to each other)
#pragma once

#include <functional>
#include <string>

namespace gencast {

struct LauncherEnv {
  bool mpi = false;      // an MPI launcher's variables are set
  int size = 0;          // ranks it announced; 0 = unknown until MPI_Init (PMIx)
  int rank = -1;         // this process's rank, -1 = unknown
  std::string launcher;  // "mpirun (Open MPI)", "PMI", "PMIx", for messages
  int slurm_tasks = 0;   // SLURM_STEP_NUM_TASKS inside an srun step, else 0
};

using EnvLookup = std::function<const char*(const char*)>;

// The launcher seen in `env` (default: the process environment).
LauncherEnv detect_launcher(const EnvLookup& env = {});

// The problem with running this way, or "" when there is none: several
// copies that MPI cannot connect (srun without --mpi, a build without MPI).
// `mpi_size` is the size MPI reported after MPI_Init (0 = not initialised).
std::string launcher_problem(const LauncherEnv& launcher, bool built_with_mpi, int mpi_size);

}  // namespace gencast
