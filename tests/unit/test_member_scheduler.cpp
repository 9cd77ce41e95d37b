// The member scheduler: every member runs exactly once whatever the number of
// workers, each on one worker at a time, and the first failure stops the
// others and reaches the caller.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/member_scheduler.h"

using namespace gencast;

TEST_CASE("member scheduler: each member once, spread over the workers", "[scheduler]") {
  for (int workers : {1, 2, 3, 8}) {
    for (int64_t members : {int64_t{0}, int64_t{1}, int64_t{5}, int64_t{50}}) {
      std::mutex mutex;
      std::multiset<int64_t> seen;
      const auto ran = schedule_members(workers, members,
                                        [&](int w, int64_t m, const std::atomic<bool>&) {
                                          REQUIRE(w >= 0);
                                          REQUIRE(w < workers);
                                          std::lock_guard<std::mutex> lock(mutex);
                                          seen.insert(m);
                                        });
      CHECK(static_cast<int64_t>(seen.size()) == members);
      for (int64_t m = 0; m < members; ++m) CHECK(seen.count(m) == 1);
      REQUIRE(ran.size() == static_cast<size_t>(workers));
      size_t total = 0;
      for (const auto& r : ran) total += r.size();
      CHECK(total == static_cast<size_t>(members));
    }
  }
}

TEST_CASE("member scheduler: the first failure is rethrown and stops the rest", "[scheduler]") {
  // Member 0 fails; every other member waits (up to 10 s) to see the stop
  // flag, as a long member polls it between steps. Deterministic under load:
  // no member can finish before the failure is known.
  std::atomic<int64_t> started{0};
  std::atomic<int64_t> saw_stop{0};
  CHECK_THROWS_WITH(
      schedule_members(3, 1000,
                       [&](int, int64_t m, const std::atomic<bool>& stop) {
                         ++started;
                         if (m == 0) throw std::runtime_error("member 0 diverged");
                         for (int i = 0; i < 10000 && !stop.load(); ++i)
                           std::this_thread::sleep_for(std::chrono::milliseconds(1));
                         if (stop.load()) ++saw_stop;
                       }),
      "member 0 diverged");
  // Each worker takes at most one member after the failure, then stops.
  CHECK(started.load() <= 6);
  CHECK(saw_stop.load() == started.load() - 1);
  CHECK_THROWS_AS(schedule_members(0, 1, [](int, int64_t, const std::atomic<bool>&) {}),
                  std::invalid_argument);
}
