#include "cluster/rank_phases.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <climits>
#include <exception>

#include "core/error.h"

namespace gencast {
namespace {

constexpr int kFailureTag = 7301;  // "a rank failed" messages; nothing else uses tags

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// What interrupts the members of the other ranks (Interrupted's name).
std::string stop_reason(int rank) { return "the failure of rank " + std::to_string(rank); }

}  // namespace

bool RankPhases::run(const std::string& name, const std::function<void()>& step) {
  {
    std::lock_guard lock(mutex_);
    received_ = 0;
    failed_peer_ = -1;
    announced_ = false;
    last_poll_ = -1;
  }
  int64_t code = 0;
  bool stopped = false;
  std::string message;
  try {
    step();
  } catch (const InputError& e) {
    code = 2;
    message = e.what();
  } catch (const std::exception& e) {
    std::lock_guard lock(mutex_);
    if (failed_peer_ >= 0) {
      stopped = true;  // told to stop by another rank's failure: not a failure of its own
      spdlog::warn("{}", e.what());
    } else {
      code = 1;
      message = e.what();
    }
  }
  if (code != 0) announce_failure();

  // One allreduce for the worst code and the spread of the error texts (to
  // print an error every rank hit alike only once), one for the counts.
  const auto hash = static_cast<int64_t>(std::hash<std::string>{}(message));
  const std::vector<int64_t> worst =
      mpi_.allreduce({code, code ? hash : INT64_MIN, code ? ~hash : INT64_MIN}, MPI_MAX);
  const std::vector<int64_t> counts = mpi_.allreduce({code ? 1 : 0, stopped ? 1 : 0}, MPI_SUM);
  finish_announcements(counts[0]);
  if (counts[0] == 0 && counts[1] == 0) return true;

  outcome_.exit_code = worst[0] > 0 ? static_cast<int>(worst[0]) : 1;
  const bool alike_everywhere = counts[0] == mpi_.size() && worst[1] == ~worst[2];
  if (code != 0) {
    if (!alike_everywhere || mpi_.root()) outcome_.error = message;
  } else if (!stopped) {
    spdlog::warn("stopping: {} rank(s) failed in the {} step (their errors are in their own lines)",
                 counts[0], name);
  }
  return false;
}

void RankPhases::announce_failure() {
  std::lock_guard lock(mutex_);
  announced_ = true;
  for (int r = 0; r < mpi_.size(); ++r) {
    if (r == mpi_.rank()) continue;
    sends_.push_back(MPI_REQUEST_NULL);
    mpi_check(MPI_Isend(&send_code_, 1, MPI_INT, r, kFailureTag, mpi_.comm(), &sends_.back()),
              "MPI_Isend");
  }
}

void RankPhases::finish_announcements(int64_t announcers) {
  std::lock_guard lock(mutex_);
  for (MPI_Request& request : sends_) mpi_wait_gently(request);
  sends_.clear();
  for (int64_t expected = announcers - (announced_ ? 1 : 0); received_ < expected; ++received_) {
    int code = 0;
    mpi_check(MPI_Recv(&code, 1, MPI_INT, MPI_ANY_SOURCE, kFailureTag, mpi_.comm(), MPI_STATUS_IGNORE),
              "MPI_Recv");
  }
}

std::string RankPhases::poll_peers() {
  if (!mpi_.threads_may_call()) return "";
  std::lock_guard lock(mutex_);
  if (failed_peer_ >= 0) return stop_reason(failed_peer_);
  const double now = now_seconds();
  if (last_poll_ >= 0 && now - last_poll_ < 0.2) return "";
  last_poll_ = now;
  int flag = 0;
  MPI_Status status;
  mpi_check(MPI_Iprobe(MPI_ANY_SOURCE, kFailureTag, mpi_.comm(), &flag, &status), "MPI_Iprobe");
  if (!flag) return "";
  int code = 0;
  mpi_check(MPI_Recv(&code, 1, MPI_INT, status.MPI_SOURCE, kFailureTag, mpi_.comm(), MPI_STATUS_IGNORE),
            "MPI_Recv");
  ++received_;
  failed_peer_ = status.MPI_SOURCE;
  return stop_reason(failed_peer_);
}

}  // namespace gencast
