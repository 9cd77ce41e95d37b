// Block-sparse tile structure for neighbourhood attention (host side, plain
// C++ so tests can inspect it without a GPU).
//
// Query nodes are placed into slots, cut into blocks of kAttentionBlock; key
// nodes into key slots, cut into key groups of kAttentionBlock. For every
// query block the layout lists the key groups a tiled kernel visits, and for
// every visited tile a kAttentionBlock x kAttentionBlock bitmask (one 64-bit
// word per query slot; bit j = the node in key slot kg*64 + j is a neighbour
// of that query).
//
// Key groups: banded and dense use the query slot order for keys too
// (key_slots = slots, key group kg = block kg), visiting key groups in
// increasing order. Sparse gives each query block key groups of its own:
// the union of its queries' neighbourhoods, each node once, in slot order
// (compact pieces of the neighbourhood), the last group padded. On the
// 0.25-degree mesh with 16 hops that is 58% of the visited pairs against
// 39% for the blocks of the slot order that hold a neighbour (fewer tiles
// by a third; each key row is still gathered through the key slot table).
//
// Slot order: banded and dense keep the caller's node order (slot i = node
// i), so they are the reference's forms: the band, resp. all tiles, of the
// given order. Sparse regroups the nodes into compact clusters first (see
// cluster_slots), because in a banded (RCM) order 64 consecutive nodes form
// a thin arc whose neighbourhoods spread over many key blocks: on the
// 0.25-degree mesh with 16 hops only ~13% of the pairs in the visited tiles
// are neighbours in RCM order. Attention is the same function in any order;
// the kernel reads and writes rows through the slot table.
//
// Invariants:
//  * every node occupies exactly one slot; other slots hold -1 (padding);
//  * every (query, neighbour) pair of the CSR sets exactly one bit, in a tile
//    the query's block visits, whatever the mode; no other bit is set
//    (padding slots and key slots are always masked);
//  * sparse visits one tile per key group of its own, each key node of it a
//    neighbour of some query of the block (no tile's mask is empty); banded
//    visits every key block between the smallest and largest neighbour block
//    of the query block; dense visits all key blocks;
//  * mask 0 is all zeros and is shared by every visited tile without
//    neighbours, so extra tiles cost no mask memory.
// The CSR must have N rows, indices in [0, N) and no duplicate neighbour in a
// row (a bitmask cannot count multiplicity); violations throw
// std::invalid_argument.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace gencast::cuda {

inline constexpr int kAttentionBlock = 64;

struct AttentionTileLayout {
  int64_t nodes = 0;
  int64_t q_blocks = 0;                 // slots.size() / 64
  int64_t k_blocks = 0;                 // key groups: key_slots.size() / 64
  std::vector<int32_t> slots;           // [q_blocks * 64]: node in each slot, -1 = padding
  std::vector<int32_t> key_slots;       // [k_blocks * 64]: node in each key slot, -1 = padding
  std::vector<int32_t> tile_offsets;    // [q_blocks + 1]: tiles of query block qb
  std::vector<int32_t> tile_key_block;  // [tiles]: key group of each visited tile
  std::vector<int32_t> tile_mask;       // [tiles]: index of its mask (0 = empty)
  std::vector<uint64_t> masks;          // [mask_count * 64]
  int64_t tiles() const { return static_cast<int64_t>(tile_key_block.size()); }
  int64_t mask_count() const { return static_cast<int64_t>(masks.size()) / kAttentionBlock; }
};

AttentionTileLayout build_attention_tiles(const Csr& neighbours, AttentionTiles mode);

// The same layout without the visited tiles whose mask is the empty mask 0
// (banded and dense visit such tiles; sparse has none): what the device
// kernels iterate over, so that tile t + 1 is the next tile with neighbours
// and its indices can be loaded a tile ahead. Offsets are recomputed; slots,
// masks and the order of the remaining tiles are unchanged.
AttentionTileLayout without_empty_tiles(AttentionTileLayout layout);

// Compact clusters of up to 64 nodes, one per block of 64 slots. Greedy: a
// seed takes the unplaced members of its neighbourhood that share the most
// neighbours with it (a proxy for distance that needs nothing but the CSR);
// if fewer than 63 remain there, the cluster grows breadth-first through its
// members' neighbourhoods, and only then takes the next unplaced nodes in the
// caller's order. The next seed is the unplaced neighbour of the cluster that
// comes first in the caller's order (the first node overall to start and
// after a component is exhausted). Deterministic. Returns the slot table
// (padding = -1; only the last block can be partly empty).
std::vector<int32_t> cluster_slots(const Csr& neighbours);

const char* attention_tiles_name(AttentionTiles mode);

}  // namespace gencast::cuda
