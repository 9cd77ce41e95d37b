// Steps every rank of an MPI run takes together (plan, forecast, merge),
// with one rule: a failure on any rank ends every rank, with a non-zero exit
// and no output. After each step the ranks agree on the outcome (a
// non-blocking allreduce of the status, so that no rank spins while it waits
// for slower ones); MPI_Abort is never needed for an ordinary failure.
//
// A rank that fails also tells the others at once (a small message to each),
// and ranks still computing see it at their next interrupt poll
// (runtime/interrupt.h: set_stop_poll) and stop as if interrupted by a
// signal (their partial part is kept for --resume), instead of computing for
// hours before the step's end.
// Every such message is received before the next step, so none is left
// pending at MPI_Finalize.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/mpi_session.h"
#include "cluster/rank_outcome.h"

namespace gencast {

class RankPhases {
 public:
  explicit RankPhases(const MpiSession& mpi) : mpi_(mpi) {}
  RankPhases(const RankPhases&) = delete;
  RankPhases& operator=(const RankPhases&) = delete;

  // Runs `step` on this rank (every rank calls run() for the same steps, in
  // the same order) and returns true when it succeeded on every rank. After
  // false, outcome() says how this rank ends; run no further steps.
  bool run(const std::string& name, const std::function<void()>& step);

  // For set_stop_poll while a step runs: "" or why this rank should stop
  // (another rank failed). Thread-safe; looks at MPI at most every 0.2 s.
  // Always "" when the MPI library cannot be called from worker threads
  // (below MPI_THREAD_SERIALIZED): failures are then seen at the step's end.
  std::string poll_peers();

  const RankOutcome& outcome() const { return outcome_; }

 private:
  void announce_failure();
  void finish_announcements(int64_t announcers);

  const MpiSession& mpi_;
  RankOutcome outcome_;
  std::mutex mutex_;           // one MPI call at a time from the polling threads
  int received_ = 0;           // failure messages received this step
  int failed_peer_ = -1;       // the first rank seen failing this step
  double last_poll_ = -1;      // seconds (steady clock) of the last MPI probe
  bool announced_ = false;      // this rank told the others it failed, this step
  std::vector<MPI_Request> sends_;
  int send_code_ = 1;          // the buffer of every send (MPI reads it until completion)
};

}  // namespace gencast
