// Host-side planning of two-level segment sums (see segment_split.h).
#include "model/segment_split.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace gencast {

SegmentSplit plan_segment_split(const std::vector<int32_t>& offsets, int64_t piece_edges) {
  if (piece_edges < 1)
    throw std::invalid_argument("plan_segment_split: piece size must be >= 1, got " +
                                std::to_string(piece_edges));
  if (offsets.empty()) throw std::invalid_argument("plan_segment_split: offsets are empty");
  SegmentSplit s;
  s.piece_edges = piece_edges;
  const size_t receivers = offsets.size() - 1;
  s.receiver_pieces.reserve(receivers + 1);
  s.receiver_pieces.push_back(0);
  s.piece_offsets.push_back(offsets[0]);
  for (size_t r = 0; r < receivers; ++r) {
    const int64_t begin = offsets[r], degree = int64_t{offsets[r + 1]} - begin;
    if (degree < 0)
      throw std::invalid_argument("plan_segment_split: offsets decrease at receiver " +
                                  std::to_string(r));
    const int64_t pieces = (degree + piece_edges - 1) / piece_edges;
    // Piece i ends at begin + ceil(degree * (i + 1) / pieces): sizes differ by
    // at most one and none exceeds piece_edges (ceil(degree / pieces) <= K).
    for (int64_t i = 1; i <= pieces; ++i)
      s.piece_offsets.push_back(static_cast<int32_t>(begin + (degree * i + pieces - 1) / pieces));
    const int64_t total = static_cast<int64_t>(s.piece_offsets.size()) - 1;
    s.receiver_pieces.push_back(static_cast<int32_t>(total));
  }
  return s;
}

int64_t max_degree(const std::vector<int32_t>& offsets, int64_t begin, int64_t end) {
  int64_t most = 0;
  for (int64_t r = begin; r < end; ++r)
    most = std::max(most, int64_t{offsets[static_cast<size_t>(r + 1)]} -
                              offsets[static_cast<size_t>(r)]);
  return most;
}

}  // namespace gencast
