// Hands the members of an ensemble to workers. Each worker runs on a thread
// of its own and takes the next unclaimed member when it finishes one, so
// faster devices take more members; which worker ran a member never changes
// its values (runtime/member_worker.h). The first failure stops the others at
// their next member and is rethrown to the caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace gencast {

// Runs run_one(worker, member_index, stop) for every member_index in
// [0, members), each exactly once, on `workers` threads (the caller's thread
// runs worker 0). `stop` turns true once any worker failed: a long member may
// poll it between steps and return early (its result is discarded anyway).
// Returns the member indices each worker ran, in order (for the log).
// Rethrows the first exception (in time) after every worker has stopped.
std::vector<std::vector<int64_t>> schedule_members(
    int workers, int64_t members,
    const std::function<void(int worker, int64_t member_index, const std::atomic<bool>& stop)>&
        run_one);

}  // namespace gencast
