// Progress of long runs: one line per finished 12 h step on stderr, with the
// time per step and an ETA, or one JSON object per line with
// --log-format json (for batch scripts that parse it). Safe to share between
// threads: workers (one per GPU) report their steps to one ForecastProgress.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace gencast {

class ForecastProgress {
 public:
  // `already_done`: member-steps a resumed run finds saved (counted as done,
  // left out of the pace behind the ETA).
  ForecastProgress(int64_t members, int64_t steps, int64_t already_done = 0);
  // Member `member_index` (0-based position among the members run; its id is
  // `member_id`) finished step `step` (0-based) in `step_seconds`. Counts
  // the step and writes its line whole; lines of concurrent calls never mix.
  void step_done(int64_t member_index, int64_t member_id, int64_t step, double step_seconds);
  double elapsed_seconds() const;
  // Steps reported so far.
  int64_t done() const;

 private:
  const int64_t members_, steps_;
  const std::chrono::steady_clock::time_point start_;
  // Guards done_ and the output, so that "done" counts up line by line.
  mutable std::mutex mutex_;
  int64_t done_ = 0;
  const int64_t already_done_ = 0;
};

// "1h02m03s" / "4m05s" / "6.1s".
std::string format_duration(double seconds);

}  // namespace gencast
