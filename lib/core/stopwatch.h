// Time between successive lap() calls: the phase timings of log lines.
#pragma once

#include <chrono>

namespace gencast {

class Stopwatch {
 public:
  using Clock = std::chrono::steady_clock;
  // The first lap counts from `start` (now by default).
  explicit Stopwatch(Clock::time_point start = Clock::now()) : last_(start) {}
  // Seconds since the previous lap (or the start).
  double lap() {
    const auto now = Clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }
  double lap_ms() { return 1e3 * lap(); }

 private:
  Clock::time_point last_;
};

}  // namespace gencast
