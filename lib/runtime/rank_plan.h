// How an MPI run (cluster/mpi_forecast.h) shares one forecast between ranks,
// as plain functions with no MPI in them, so that they are unit-tested and
// shown by check-config:
//  - members: the run's members form fixed groups of `batch` (member indices
//    [g*batch, (g+1)*batch), as in one process); each rank takes a contiguous
//    block of whole groups, so every member is computed in the same group as
//    a one-process run at the same batch and gives the same values;
//  - devices: each rank takes its share of its node's GPUs from its
//    node-local rank, composing with the multi-device workers (--devices);
//  - batch: what `auto` resolves to on this rank (the ranks then agree on
//    the smallest, so that every rank groups members alike).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spec/run_spec.h"

namespace gencast {

// Where a rank runs.
struct RankPlace {
  int rank = 0, size = 1;              // in the whole job
  int local_rank = 0, local_size = 1;  // among the ranks of its node
  int nodes = 1;
  std::string node;  // host name
};

// Member indices [first, last) of `members` that `rank` of `size` runs: a
// contiguous block of whole groups of `batch`, the groups shared as evenly
// as possible, the larger blocks on the last ranks (rank 0 merges at the
// end; with fewer groups than ranks, the first ranks get none).
struct MemberRange {
  int64_t first = 0, last = 0;
  bool empty() const { return first >= last; }
  int64_t size() const { return last - first; }
};
MemberRange rank_member_range(int64_t members, int64_t batch, int rank, int size);

// A rank's worker devices, from the spec's (RuntimeSection::worker_devices)
// and the `visible_gpus` its node shows it:
//  - "all": the node's GPUs split in contiguous blocks over its ranks (when
//    there are fewer GPUs than ranks, rank l takes GPU l mod count);
//  - a list: GPU indices count from the rank's own block of the node: with
//    k = (highest index listed + 1), local rank l's cuda:i is
//    cuda:(l*k + i) mod visible_gpus. `cuda:0` with 4 ranks on a 4-GPU node
//    gives each rank its own GPU; `cuda:0,cuda:1` with 2 ranks, two each;
//    with one visible GPU per rank (CUDA_VISIBLE_DEVICES set by the
//    launcher) every rank keeps cuda:0.
//  - "auto" (the first usable GPU) is the rank's own first GPU, as cuda:0;
//  - "cpu" entries, and every entry when no GPU is visible, stay as they are
//    (auto then falls back to the CPU by its own rules).
struct RankDevices {
  std::vector<std::string> devices;
  std::string sharing;  // "" or a warning: more ranks x GPUs per rank than GPUs
};
RankDevices rank_devices(const std::vector<std::string>& devices, int local_rank, int local_size,
                         int visible_gpus);

// The batch this rank's first device would choose for `spec` (its
// runtime.batch when not auto; auto: from the free memory, at most
// `max_useful`). Reads the checkpoint's configs and the input's grid only.
// InputError when the device does not exist or the files are invalid.
int64_t plan_rank_batch(const RunSpec& spec, int64_t max_useful);

// "members 0-3 (4) on cuda:0, cuda:1" for logs and check-config.
std::string describe_rank_share(const std::vector<int64_t>& member_ids, const MemberRange& range,
                                const std::vector<std::string>& devices);

}  // namespace gencast
