// Two-level segment sums for edge sets with heavy receivers.
//
// A segment sum with one worker per receiver is as slow as its heaviest
// receiver: at 0.25° a polar mesh node receives ~3,750 grid2mesh edges while
// the average is ~40, so a receiver-range chunk of polar nodes keeps only a few
// dozen workers busy. Splitting every receiver's edges into "pieces" of at most
// K consecutive edges bounds both levels' serial work:
//   level 1: edges -> pieces     (each piece sums <= K edges)
//   level 2: pieces -> receivers (each receiver sums <= ceil(degree / K) pieces)
// Both levels are ordinary segment sums, so every backend runs them unchanged.
//
// Invariants of a SegmentSplit made from receiver offsets `o` (R receivers):
//   receiver_pieces has R + 1 entries, starts at 0, is non-decreasing and ends
//   at P = pieces(); piece_offsets has P + 1 entries; receiver r owns pieces
//   [receiver_pieces[r], receiver_pieces[r + 1]), and those pieces cover its
//   edges [o[r], o[r + 1]) exactly, in order, each with 1..K edges; so a
//   receiver without edges owns no piece (and level 2 gives it a zero sum).
#pragma once

#include <cstdint>
#include <vector>

namespace gencast {

struct SegmentSplit {
  int64_t piece_edges = 0;               // K: the most edges in one piece
  std::vector<int32_t> piece_offsets;    // [P + 1] edge offsets (same base as the input)
  std::vector<int32_t> receiver_pieces;  // [R + 1] piece offsets, from 0

  int64_t pieces() const {
    return piece_offsets.empty() ? 0 : static_cast<int64_t>(piece_offsets.size()) - 1;
  }
};

// Splits every receiver's edges into ceil(degree / K) pieces of near-equal
// size (they differ by at most one edge, so no piece is a tiny remainder).
// offsets: [R + 1], non-decreasing (EdgeSet::receiver_offsets). K >= 1.
// Throws std::invalid_argument for K < 1 or decreasing offsets.
SegmentSplit plan_segment_split(const std::vector<int32_t>& offsets, int64_t piece_edges);

// The largest degree of receivers [begin, end) (0 for an empty range).
int64_t max_degree(const std::vector<int32_t>& offsets, int64_t begin, int64_t end);

}  // namespace gencast
