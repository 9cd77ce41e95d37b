#include "runtime/rank_plan.h"

#include <algorithm>

#include "core/text.h"
#include "devices/device_factory.h"
#include "io/initial_conditions.h"
#include "model/checkpoint.h"
#include "runtime/memory_plan.h"

namespace gencast {

MemberRange rank_member_range(int64_t members, int64_t batch, int rank, int size) {
  if (members <= 0 || batch <= 0 || size <= 0 || rank < 0 || rank >= size) return {};
  const int64_t groups = (members + batch - 1) / batch;
  // G/S groups each, the last G mod S ranks one more: block sizes differ by
  // at most one, and rank 0, which merges the parts at the end, is among the
  // ranks with less to compute (with fewer groups than ranks, it idles).
  const int64_t base = groups / size, extra = groups % size;
  const auto block_start = [&](int64_t r) {
    return r * base + std::max<int64_t>(0, r - (size - extra));
  };
  return {std::min(members, block_start(rank) * batch),
          std::min(members, block_start(rank + 1) * batch)};
}

RankDevices rank_devices(const std::vector<std::string>& devices, int local_rank, int local_size,
                         int visible_gpus) {
  RankDevices out;
  const int G = visible_gpus, L = std::max(1, local_size), l = local_rank;
  auto gpu = [](int i) { return "cuda:" + std::to_string(i); };
  if (devices.size() == 1 && devices[0] == kAllDevices) {
    if (G <= 0) {
      out.devices = devices;  // expand_devices says that no GPU was found
    } else if (G >= L) {
      for (int i = G * l / L; i < G * (l + 1) / L; ++i) out.devices.push_back(gpu(i));
    } else {
      out.devices.push_back(gpu(l % G));
      out.sharing = std::to_string(L) + " ranks share this node's " + std::to_string(G) + " GPU(s)";
    }
    return out;
  }
  int span = 0;  // GPUs one rank's list covers
  for (const auto& d : devices)
    if (const auto name = find_device_name(d); name && name->kind == DeviceName::Kind::cuda)
      span = std::max(span, name->index + 1);
    else if (d == kAutoDevice && G > 0)
      span = std::max(span, 1);
  for (const auto& d : devices) {
    // auto is the first usable GPU: the rank's own first GPU.
    const auto name = d == kAutoDevice && G > 0 ? find_device_name("cuda:0") : find_device_name(d);
    if (G <= 0 || !name || name->kind != DeviceName::Kind::cuda) {
      out.devices.push_back(d);
      continue;
    }
    out.devices.push_back(gpu((l * span + name->index) % G));
  }
  // One visible GPU per rank is how launchers bind ranks to GPUs
  // (CUDA_VISIBLE_DEVICES), not sharing.
  if (span > 0 && G > 1 && L * span > G)
    out.sharing = std::to_string(L) + " ranks x " + std::to_string(span) +
                  " GPU(s) each on a node with " + std::to_string(G) + " GPUs: ranks share GPUs";
  return out;
}

int64_t plan_rank_batch(const RunSpec& spec, int64_t max_useful) {
  if (spec.runtime.batch != kBatchAuto) return spec.runtime.batch;
  const CheckpointSummary ck =
      summarize_checkpoint(spec.model.checkpoint, attention_mode_name(spec.model.attention));
  if (!ck.ok()) throw InputError(ck.problems);
  const InputGrid grid = read_initial_grid(spec.input.paths());
  const std::vector<std::string> devices = expand_devices(spec.runtime.worker_devices());
  const std::unique_ptr<Backend> backend = make_backend(devices.front(), spec.model.precision);
  const MemoryEstimate one =
      estimate_forecast_memory(ck.config, static_cast<int64_t>(grid.lat.size()),
                               static_cast<int64_t>(grid.lon.size()), spec.model.precision,
                               kDefaultChunkRows);
  return resolve_batch(kBatchAuto, one, spec.runtime.edge_cache, *backend, max_useful);
}

std::string describe_rank_share(const std::vector<int64_t>& member_ids, const MemberRange& range,
                                const std::vector<std::string>& devices) {
  if (range.empty()) return "no members (fewer member groups than ranks)";
  std::string members;
  const auto first = static_cast<size_t>(range.first), last = static_cast<size_t>(range.last);
  bool consecutive = true;
  for (size_t i = first + 1; i < last; ++i) consecutive = consecutive && member_ids[i] == member_ids[i - 1] + 1;
  if (range.size() == 1) {
    members = "member " + std::to_string(member_ids[first]);
  } else if (consecutive) {
    members = "members " + std::to_string(member_ids[first]) + "-" + std::to_string(member_ids[last - 1]);
  } else {
    members = "members " + join_numbers(std::vector<int64_t>(member_ids.begin() + range.first,
                                                             member_ids.begin() + range.last), ",");
  }
  return members + " (" + std::to_string(range.size()) + ") on " + join(devices, ", ");
}

}  // namespace gencast
