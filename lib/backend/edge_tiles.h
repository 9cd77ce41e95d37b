// Tiles of whole segments for the fused edge MLP (Backend::fused_edge_mlp).
//
// The fused kernel keeps one tile of per-edge latents on chip and sums each
// segment (a receiver, or a piece of one: model/segment_split.h) inside the
// tile that holds it, so a tile must hold whole segments. plan_edge_tiles
// groups consecutive segments greedily into tiles of at most `max_rows` edges
// and at most `max_rows` segments (empty ones count too: the kernel keeps one
// boundary per segment); a segment with more edges cannot be tiled.
//
// Invariants of a plan for segments [0, S) of offsets o (o[s]..o[s+1] are the
// edges of segment s): boundaries t[0] = 0 < t[1] < ... < t[T] = S; tile i
// holds segments [t[i], t[i+1]), t[i+1] - t[i] <= max_rows and
// o[t[i+1]] - o[t[i]] <= max_rows; every tile is non-empty in segments (empty segments join a neighbouring tile;
// S = 0 gives the single boundary {0}).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace gencast {

// Edges per tile of the CUDA backend's fused edge kernel (kernels/edge_mlp.cu):
// 64 edge rows x 512 latents of float32 accumulators fill a CTA's registers.
inline constexpr int64_t kEdgeTileRows = 64;

// Tile boundaries (segment indices, from 0) for the segments whose edge
// offsets are `offsets` (S + 1 entries, any base); nullopt when a segment has
// more than max_rows edges. Throws std::invalid_argument for decreasing
// offsets or max_rows < 1.
std::optional<std::vector<int32_t>> plan_edge_tiles(std::span<const int32_t> offsets,
                                                    int64_t max_rows);

}  // namespace gencast
