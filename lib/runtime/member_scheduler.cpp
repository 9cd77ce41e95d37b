#include "runtime/member_scheduler.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace gencast {

std::vector<std::vector<int64_t>> schedule_members(
    int workers, int64_t members,
    const std::function<void(int, int64_t, const std::atomic<bool>&)>& run_one) {
  if (workers < 1) throw std::invalid_argument("schedule_members: no workers");
  std::vector<std::vector<int64_t>> ran(static_cast<size_t>(workers));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&](int w) {
    while (!failed.load()) {
      const int64_t m = next.fetch_add(1);
      if (m >= members) return;
      try {
        run_one(w, m, failed);
        ran[static_cast<size_t>(w)].push_back(m);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(workers - 1));
  for (int w = 1; w < workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return ran;
}

}  // namespace gencast
