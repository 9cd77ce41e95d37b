// core/parallel: every row runs exactly once, ranges are contiguous and fixed
// by (rows, workers, min_rows), counts are exact, errors surface after every
// range finished, and one worker means the caller's thread alone.
#include <catch2/catch.hpp>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "core/parallel.h"

using namespace gencast;

namespace {

struct Range {
  int64_t begin, end;
  std::thread::id thread;
};

// The ranges one parallel_for call ran, sorted by begin.
std::vector<Range> ranges_of(int64_t rows, int64_t min_rows) {
  std::mutex mutex;
  std::vector<Range> ranges;
  parallel_for(
      rows,
      [&](int64_t begin, int64_t end) {
        std::lock_guard lock(mutex);
        ranges.push_back({begin, end, std::this_thread::get_id()});
      },
      min_rows);
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  return ranges;
}

}  // namespace

TEST_CASE("parallel_for runs every row exactly once", "[core][parallel]") {
  ScopedParallelWorkers scope(7);
  for (int64_t rows : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{100003}}) {
    for (int64_t min_rows : {int64_t{1}, int64_t{64}, kDefaultMinParallelRows}) {
      INFO("rows " << rows << " min_rows " << min_rows);
      std::vector<int> hits(static_cast<size_t>(rows), 0);
      parallel_for(
          rows,
          [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) ++hits[static_cast<size_t>(r)];
          },
          min_rows);
      CHECK(std::count(hits.begin(), hits.end(), 1) == rows);
    }
  }
}

TEST_CASE("parallel_for ranges are contiguous, balanced and as announced", "[core][parallel]") {
  for (int workers : {2, 5, kMaxParallelWorkers}) {
    ScopedParallelWorkers scope(workers);
    REQUIRE(parallel_worker_count() == workers);
    for (int64_t rows : {int64_t{5}, int64_t{999}, int64_t{1} << 20}) {
      const int64_t min_rows = 4;
      INFO("workers " << workers << " rows " << rows);
      const std::vector<Range> ranges = ranges_of(rows, min_rows);
      REQUIRE(static_cast<int64_t>(ranges.size()) == parallel_range_count(rows, min_rows, workers));
      CHECK(ranges.front().begin == 0);
      CHECK(ranges.back().end == rows);
      int64_t smallest = rows, largest = 0;
      for (size_t i = 0; i < ranges.size(); ++i) {
        if (i > 0) CHECK(ranges[i].begin == ranges[i - 1].end);
        smallest = std::min(smallest, ranges[i].end - ranges[i].begin);
        largest = std::max(largest, ranges[i].end - ranges[i].begin);
      }
      CHECK(largest - smallest <= 1);
      // Range 0 runs on the caller; every other range on a thread of its own.
      CHECK(ranges.front().thread == std::this_thread::get_id());
      for (size_t i = 1; i < ranges.size(); ++i) {
        CHECK(ranges[i].thread != std::this_thread::get_id());
        for (size_t j = 1; j < i; ++j) CHECK(ranges[i].thread != ranges[j].thread);
      }
    }
  }
}

TEST_CASE("parallel_range_count follows rows, min_rows and workers", "[core][parallel]") {
  CHECK(parallel_range_count(0, 1, 8) == 0);
  CHECK(parallel_range_count(-3, 1, 8) == 0);
  CHECK(parallel_range_count(10, 100, 8) == 1);   // too small to split
  CHECK(parallel_range_count(350, 100, 8) == 3);  // three full minimums
  CHECK(parallel_range_count(1 << 20, 100, 8) == 8);
  CHECK(parallel_range_count(1 << 20, 100, 0) == 1);  // no worker count: serial
  CHECK(parallel_range_count(1 << 20, 0, 4) == 4);    // min_rows 0 treated as 1
}

TEST_CASE("parallel_for with no rows runs nothing", "[core][parallel]") {
  int calls = 0;
  parallel_for(0, [&](int64_t, int64_t) { ++calls; });
  parallel_for(-5, [&](int64_t, int64_t) { ++calls; });
  CHECK(calls == 0);
  CHECK(parallel_count(0, [&](int64_t, int64_t) { return int64_t{1}; }) == 0);
}

TEST_CASE("parallel_count sums the ranges' counts exactly", "[core][parallel]") {
  const int64_t rows = 123457;
  auto multiples_of_7 = [](int64_t begin, int64_t end) {
    int64_t n = 0;
    for (int64_t r = begin; r < end; ++r) n += r % 7 == 0 ? 1 : 0;
    return n;
  };
  const int64_t serial = multiples_of_7(0, rows);
  for (int workers : {1, 3, 16}) {
    ScopedParallelWorkers scope(workers);
    CHECK(parallel_count(rows, multiples_of_7, 1) == serial);
    CHECK(parallel_count(rows, multiples_of_7, 1000) == serial);
  }
}

TEST_CASE("the worker count is the machine's, or the innermost scope's", "[core][parallel]") {
  const int machine = parallel_worker_count();
  CHECK(machine >= 1);
  CHECK(machine <= kMaxParallelWorkers);
  {
    ScopedParallelWorkers one(1);
    CHECK(parallel_worker_count() == 1);
    const std::vector<Range> ranges = ranges_of(1 << 20, 1);
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0].begin == 0);
    CHECK(ranges[0].end == (1 << 20));
    CHECK(ranges[0].thread == std::this_thread::get_id());
    {
      ScopedParallelWorkers many(1000);  // clamped to the maximum
      CHECK(parallel_worker_count() == kMaxParallelWorkers);
    }
    CHECK(parallel_worker_count() == 1);  // restored
    ScopedParallelWorkers none(0);        // clamped to one
    CHECK(parallel_worker_count() == 1);
  }
  CHECK(parallel_worker_count() == machine);
  // The setting belongs to the thread that made it.
  ScopedParallelWorkers three(3);
  int other = 0;
  std::thread([&] { other = parallel_worker_count(); }).join();
  CHECK(other == machine);
}

TEST_CASE("parallel_for rethrows the first range's error after all ranges ran",
          "[core][parallel]") {
  ScopedParallelWorkers scope(4);
  const int64_t rows = 1 << 16, min_rows = 1;
  const int64_t n = parallel_range_count(rows, min_rows, parallel_worker_count());
  REQUIRE(n == 4);
  std::vector<int> done(static_cast<size_t>(rows), 0);
  std::mutex mutex;
  std::vector<int64_t> begins;
  try {
    parallel_for(
        rows,
        [&](int64_t begin, int64_t end) {
          {
            std::lock_guard lock(mutex);
            begins.push_back(begin);
          }
          for (int64_t r = begin; r < end; ++r) done[static_cast<size_t>(r)] = 1;
          // Every range throws, naming its first row: the lowest must win.
          throw std::runtime_error(std::to_string(begin));
        },
        min_rows);
    FAIL("parallel_for swallowed the error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "0");
  }
  CHECK(static_cast<int64_t>(begins.size()) == n);
  CHECK(std::count(done.begin(), done.end(), 1) == rows);
}
