// Row-range parallel loops (see parallel.h): one std::jthread per extra range,
// started and joined within the call.
#include "core/parallel.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace gencast {
namespace {

// 0 = the machine's count. Per thread, so a test's setting never leaks into
// another thread.
thread_local int t_workers = 0;

// Runs fn(range index, begin, end) for every range of [0, rows).
void run_ranges(int64_t rows, int64_t min_rows,
                const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  const int64_t n = parallel_range_count(rows, min_rows, parallel_worker_count());
  if (n == 0) return;
  // rows * i fits in int64 for any grid (rows < 2^40, i <= 16).
  auto begin_of = [&](int64_t i) { return rows * i / n; };
  if (n == 1) {
    fn(0, 0, rows);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  auto run = [&](int64_t i) {
    try {
      fn(i, begin_of(i), begin_of(i + 1));
    } catch (...) {
      errors[static_cast<size_t>(i)] = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> threads;
    threads.reserve(static_cast<size_t>(n - 1));
    // If starting a thread throws, the started ones join when `threads` goes
    // out of scope and the system_error propagates: nothing is left running.
    for (int64_t i = 1; i < n; ++i) threads.emplace_back(run, i);
    run(0);
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

int parallel_worker_count() {
  if (t_workers > 0) return t_workers;
  const auto hw = static_cast<int>(std::thread::hardware_concurrency());  // 0 = unknown
  return std::clamp(hw, 1, kMaxParallelWorkers);
}

ScopedParallelWorkers::ScopedParallelWorkers(int workers) : previous_(t_workers) {
  t_workers = std::clamp(workers, 1, kMaxParallelWorkers);
}

ScopedParallelWorkers::~ScopedParallelWorkers() { t_workers = previous_; }

int64_t parallel_range_count(int64_t rows, int64_t min_rows, int workers) {
  if (rows <= 0) return 0;
  const int64_t by_size = rows / std::max<int64_t>(min_rows, 1);
  return std::clamp<int64_t>(by_size, 1, std::max(workers, 1));
}

void parallel_for(int64_t rows, const RowRangeFn& fn, int64_t min_rows) {
  run_ranges(rows, min_rows, [&](int64_t, int64_t begin, int64_t end) { fn(begin, end); });
}

int64_t parallel_count(int64_t rows, const std::function<int64_t(int64_t, int64_t)>& fn,
                       int64_t min_rows) {
  // One slot per range (at most kMaxParallelWorkers), summed in range order.
  std::vector<int64_t> counts(static_cast<size_t>(kMaxParallelWorkers), 0);
  run_ranges(rows, min_rows, [&](int64_t i, int64_t begin, int64_t end) {
    counts[static_cast<size_t>(i)] = fn(begin, end);
  });
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  return total;
}

}  // namespace gencast
