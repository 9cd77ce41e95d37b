// Row-range parallel loops on plain std::threads: THE one way this program
// runs a host loop on several cores.
//
// The rule: every parallel host loop goes through parallel_for or
// parallel_count. No OpenMP (it is not linked), no raw std::thread loops
// elsewhere (a thread that does other work, like the async writer, is not a
// loop). Why: one mechanism gives one set of guarantees to reason about --
// which rows a thread computes, that results never depend on the worker
// count, how errors surface, that nothing spins between calls -- and one knob
// (ScopedParallelWorkers) for tests to split any loop. OpenMP next to it gave
// two thread pools competing for the same cores, a team that spun after every
// region (35-64 % of the CPU demo forecast's cycles were libgomp waiting;
// beside one other busy process on a 2-core host its demo took 4.3-4.8 s,
// this one's 1.2 s), an exception in a loop body that ended the program, and
// reduction clauses whose combination order depends on the team.
//
// How to write a loop: the body gets a contiguous [begin, end) and runs the
// serial loop over it, so every row sees exactly the serial operations.
// Scratch is allocated once per range inside the body. A reduction is an
// integer count (parallel_count), or each row stores its partial and one
// serial pass combines them in row order. There is no dynamic schedule: when
// rows cost very different amounts, visit them in an order that spreads the
// cost (numerics/sphere_noise_synth.cpp). min_rows comes from
// parallel_min_rows(the row's work), so that small calls stay serial.
//
// Used for the host-side passes over the grid nodes between two GPU sampler
// steps (normalization, frame shift: ~1 M rows at 0.25 deg), the CPU
// backend's ops, noise synthesis and graph building.
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
//    outlives a call, so nothing spins between calls. (A demo forecast on
//    the CPU backend starts ~1500 threads, ~2 % of its time. A pool of
//    sleeping threads was tried and ran it no faster: waking a sleeping
//    thread cost as much as starting one, 20-40 us on a 2-core VM. What
//    OpenMP's spinning team still buys on an idle host, ~0.1 s of that
//    0.65 s demo, it pays back many times over on a shared one.)
#pragma once

#include <algorithm>
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

// Work worth a thread of its own, in elementary inner-loop operations (a
// multiply-add, a float read and written; a transcendental function counts
// as ~20): 2^18 of them take ~0.05 ms (vectorised multiply-adds) to ~0.5 ms
// (scalar passes), a few times to ten times what starting and joining a
// thread costs (30-40 us measured on a loaded 2-core VM). The CPU demo
// forecast ran equally fast with 2^14 to 2^20 here; 2^18 keeps the thread
// count modest on 16-core hosts.
inline constexpr int64_t kMinParallelWork = int64_t{1} << 18;

// What one exp, sin, acos or similar counts as in that unit.
inline constexpr int64_t kTranscendentalWork = 20;

// min_rows for a loop whose rows cost about `work_per_row` operations each:
// every range then carries at least kMinParallelWork, and a call with less
// than twice that stays serial.
constexpr int64_t parallel_min_rows(int64_t work_per_row) {
  const int64_t w = std::max<int64_t>(work_per_row, 1);
  return std::max<int64_t>((kMinParallelWork + w - 1) / w, 1);
}

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
