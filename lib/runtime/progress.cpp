#include "runtime/progress.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "core/json.h"
#include "core/log.h"

namespace gencast {

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    const auto s = static_cast<int64_t>(seconds + 0.5);
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    const auto s = static_cast<int64_t>(seconds + 0.5);
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  }
  return buf;
}

ForecastProgress::ForecastProgress(int64_t members, int64_t steps, int64_t already_done)
    : members_(members),
      steps_(steps),
      start_(std::chrono::steady_clock::now()),
      done_(already_done),
      already_done_(already_done) {}

double ForecastProgress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

int64_t ForecastProgress::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

void ForecastProgress::step_done(int64_t member_index, int64_t member_id, int64_t step,
                                 double step_seconds) {
  // Held while writing too: lines leave in the order their counts were taken.
  std::lock_guard lock(mutex_);
  ++done_;
  const int64_t total = members_ * steps_;
  const double elapsed = elapsed_seconds();
  const double eta = elapsed / static_cast<double>(done_ - already_done_) *
                     static_cast<double>(total - done_);
  if (log_format() == LogFormat::json) {
    JsonWriter json;
    json.begin_object()
        .key("event").value("step")
        .key("member").value(member_id)
        .key("member_index").value(member_index)
        .key("members").value(members_)
        .key("step").value(step + 1)
        .key("steps").value(steps_)
        .key("lead_hours").value((step + 1) * 12)
        .key("step_seconds").value(step_seconds)
        .key("elapsed_seconds").value(elapsed)
        .key("eta_seconds").value(eta)
        .key("done").value(done_)
        .key("total").value(total);
    if (log_rank() >= 0) json.key("rank").value(static_cast<int64_t>(log_rank()));
    json.end_object();
    const std::string line = json.str() + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  } else {
    spdlog::info("member {} ({}/{}) step {}/{} (+{}h): {:.2f} s, elapsed {}, ETA {}", member_id,
                 member_index + 1, members_, step + 1, steps_, (step + 1) * 12, step_seconds,
                 format_duration(elapsed), format_duration(eta));
  }
}

}  // namespace gencast
