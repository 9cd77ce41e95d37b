// Row-range parallel loops on plain std::threads, for the host-side passes
// over the grid nodes that sit between two GPU sampler steps of a forecast
// (normalization, un-normalization, frame shift: ~1 M rows at 0.25 deg).
//
// Invariants:
//  - [0, rows) is cut into contiguous ranges by (rows, worker count,
//    min_rows) alone; each range is run exactly once, by exactly one thread.
//    The calling thread runs range 0, so one worker means no extra thread.
//  - A body that writes only the rows of its own range gives results that do
//    not depend on the worker count: bit-identical to a serial loop.
//  - parallel_count combines the per-range counts in range order (integers,
//    so exact anyway); no floating-point value is ever combined across ranges.
//  - Every range finishes before the call returns, also when one throws;
//    then the exception of the lowest-numbered failing range is rethrown.
//  - Threads are started per call and joined before it returns: no pool
//    outlives a call, so nothing spins between steps and nothing competes
//    with OpenMP regions elsewhere in the program.
#pragma once

#include <cstdint>
#include <functional>

namespace gencast {

// Upper bound on workers: the target hosts have 16 cores, and memory-bound
// passes stop scaling well before that.
inline constexpr int kMaxParallelWorkers = 16;

// Ranges shorter than this are not worth a thread (a thread start costs
// tens of microseconds; 16 Ki rows of a 84-channel pass take longer).
inline constexpr int64_t kDefaultMinParallelRows = int64_t{1} << 14;

// min(hardware_concurrency, kMaxParallelWorkers), at least 1, unless a
// ScopedParallelWorkers of the calling thread sets another count.
int parallel_worker_count();

// Sets the worker count of every parallel_for started by this thread while it
// lives (clamped to 1..kMaxParallelWorkers; the innermost scope wins). Tests
// use 1 for the serial reference of a pass and a larger, odd count to split
// it into several ranges whatever the machine has.
class ScopedParallelWorkers {
 public:
  explicit ScopedParallelWorkers(int workers);
  ~ScopedParallelWorkers();
  ScopedParallelWorkers(const ScopedParallelWorkers&) = delete;
  ScopedParallelWorkers& operator=(const ScopedParallelWorkers&) = delete;

 private:
  int previous_;
};

using RowRangeFn = std::function<void(int64_t begin, int64_t end)>;

// How many ranges parallel_for cuts [0, rows) into for `workers` workers:
// n = clamp(rows / min_rows, 1, workers) (0 for rows <= 0); range i is
// [rows*i/n, rows*(i+1)/n), so sizes differ by at most one row.
int64_t parallel_range_count(int64_t rows, int64_t min_rows, int workers);

// Runs fn over [0, rows) in contiguous ranges on up to parallel_worker_count()
// threads. rows <= 0 runs nothing.
void parallel_for(int64_t rows, const RowRangeFn& fn,
                  int64_t min_rows = kDefaultMinParallelRows);

// parallel_for whose body returns a count for its range; the sum, exact.
int64_t parallel_count(int64_t rows, const std::function<int64_t(int64_t, int64_t)>& fn,
                       int64_t min_rows = kDefaultMinParallelRows);

}  // namespace gencast
