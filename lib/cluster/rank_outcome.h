// How one rank of an MPI run ends (cluster/rank_phases.h decides it).
#pragma once

#include <string>

namespace gencast {

struct RankOutcome {
  int exit_code = 0;  // the same on every rank: 2 if any rank had an input error, else 1
  std::string error;  // this rank's own error to print ("" = none, or printed by rank 0)
  bool ok() const { return exit_code == 0; }
};

}  // namespace gencast
