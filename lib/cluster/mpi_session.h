// One MPI job for the lifetime of a command (this layer is built only with
// -DGENCAST_MPI, and used only when a launcher started the process:
// runtime/launcher_env.h). Owns MPI_Init_thread / MPI_Finalize, knows where
// this rank runs (node-local rank from MPI_Comm_split_type SHARED), names the
// rank in every log line, and offers the few collectives the cluster code
// needs. Collectives wait by polling with short sleeps instead of spinning:
// a rank that finished its members may wait hours for the others, and its
// node's cores are better left to their writer threads.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/rank_plan.h"

namespace gencast {

class MpiSession {
 public:
  // MPI_Init_thread asking for MPI_THREAD_SERIALIZED (worker threads poll
  // for other ranks' failures under a mutex). RuntimeFailure if MPI cannot
  // start.
  MpiSession();
  // MPI_Finalize; MPI_Abort instead when an exception is unwinding past the
  // session (the other ranks could otherwise wait forever in a collective).
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  const RankPlace& place() const { return place_; }
  int rank() const { return place_.rank; }
  int size() const { return place_.size; }
  bool root() const { return place_.rank == 0; }
  MPI_Comm comm() const { return MPI_COMM_WORLD; }
  // Whether threads other than the main one may call MPI (one at a time).
  bool threads_may_call() const { return serialized_; }

  // Element-wise reductions over every rank (op: MPI_MIN, MPI_MAX, MPI_SUM).
  std::vector<int64_t> allreduce(std::vector<int64_t> values, MPI_Op op) const;
  int64_t allreduce(int64_t value, MPI_Op op) const;
  // Every rank's text at the root, in rank order; empty on the other ranks.
  std::vector<std::string> gather(const std::string& text) const;

 private:
  RankPlace place_;
  bool serialized_ = false;
  int uncaught_at_start_ = 0;
};

// Waits for a non-blocking MPI operation, sleeping between tests.
void mpi_wait_gently(MPI_Request& request);

// Throws RuntimeFailure naming `what` when an MPI call failed.
void mpi_check(int status, const char* what);

}  // namespace gencast
