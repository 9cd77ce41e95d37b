// One set of directed edges of the denoiser graph, laid out for the model.
//
// The model aggregates messages per receiver with segment sums, so edges are
// sorted by receiver (stable: edges of one receiver keep their given order)
// and receiver_offsets[r]..receiver_offsets[r+1] are the edges of receiver r.
//
// Invariants: senders.size() == receivers.size() == E; features is [E, 4] or
// empty (before features are computed); receiver_offsets has n_receivers + 1
// entries, starts at 0, ends at E, and is non-decreasing.
#pragma once

#include <cstdint>
#include <vector>

#include "core/array.h"

namespace gencast {

struct EdgeSet {
  std::vector<int32_t> senders, receivers;
  ArrayF features;                         // [E, 4]: |d|, dx, dy, dz (normalised)
  std::vector<int32_t> receiver_offsets;   // [n_receivers + 1]

  int64_t size() const { return static_cast<int64_t>(senders.size()); }
};

// Builds an EdgeSet from edges in any order: stable sort by receiver, then
// offsets. Receivers must lie in [0, n_receivers).
EdgeSet edge_set_by_receiver(const std::vector<int32_t>& senders,
                             const std::vector<int32_t>& receivers, int64_t n_receivers);

}  // namespace gencast
