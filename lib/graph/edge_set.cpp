// Receiver-sorted edge sets (see edge_set.h).
#include "graph/edge_set.h"

#include <limits>
#include <stdexcept>

namespace gencast {

EdgeSet edge_set_by_receiver(const std::vector<int32_t>& senders,
                             const std::vector<int32_t>& receivers, int64_t n_receivers) {
  if (senders.size() != receivers.size()) {
    throw std::invalid_argument("edge_set_by_receiver: senders and receivers differ in length");
  }
  if (senders.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw std::invalid_argument("edge_set_by_receiver: too many edges for int32 offsets");
  }
  // Counting sort by receiver: stable and linear.
  std::vector<int32_t> offsets(static_cast<size_t>(n_receivers) + 1, 0);
  for (int32_t r : receivers) {
    if (r < 0 || r >= n_receivers) {
      throw std::invalid_argument("edge_set_by_receiver: receiver index out of range");
    }
    ++offsets[static_cast<size_t>(r) + 1];
  }
  for (size_t i = 1; i < offsets.size(); ++i) offsets[i] += offsets[i - 1];
  EdgeSet out;
  out.senders.resize(senders.size());
  out.receivers.resize(receivers.size());
  std::vector<int32_t> next(offsets.begin(), offsets.end() - 1);
  for (size_t e = 0; e < senders.size(); ++e) {
    const int32_t slot = next[receivers[e]]++;
    out.senders[slot] = senders[e];
    out.receivers[slot] = receivers[e];
  }
  out.receiver_offsets = std::move(offsets);
  return out;
}

}  // namespace gencast
