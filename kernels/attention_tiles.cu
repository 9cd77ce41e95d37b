// Host construction of the attention tile layout (see attention_tiles.h).
// Pure host code; it lives in a .cu file only because kernels/ builds .cu files.
#include "attention_tiles.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace gencast::cuda {
namespace {

[[noreturn]] void bad(const std::string& what) {
  throw std::invalid_argument("attention plan: " + what);
}

void validate(const Csr& nb) {
  const int64_t n = nb.rows();
  if (n <= 0) bad("the neighbourhood has no rows");
  if (n > std::numeric_limits<int32_t>::max() / 2) bad("too many nodes");
  for (int64_t r = 0; r < n; ++r)
    if (nb.offsets[r] > nb.offsets[r + 1]) bad("offsets decrease at row " + std::to_string(r));
  if (nb.offsets[0] < 0 || nb.offsets[n] > static_cast<int64_t>(nb.indices.size()))
    bad("offsets point outside the index array");
  for (int64_t e = nb.offsets[0]; e < nb.offsets[n]; ++e)
    if (nb.indices[e] < 0 || nb.indices[e] >= n)
      bad("neighbour " + std::to_string(nb.indices[e]) + " is outside [0, " + std::to_string(n) +
          ")");
}

}  // namespace

const char* attention_tiles_name(AttentionTiles mode) {
  switch (mode) {
    case AttentionTiles::sparse: return "sparse";
    case AttentionTiles::banded: return "banded";
    case AttentionTiles::dense: return "dense";
  }
  return "?";
}

std::vector<int32_t> cluster_slots(const Csr& nb) {
  constexpr int B = kAttentionBlock;
  validate(nb);
  const int64_t n = nb.rows();
  std::vector<uint8_t> placed(static_cast<size_t>(n), 0);
  std::vector<int32_t> stamp(static_cast<size_t>(n), -1);  // = seed whose neighbourhood is marked
  std::vector<std::pair<int64_t, int32_t>> scored;          // (-shared neighbours, node)
  std::vector<int32_t> slots;
  slots.reserve(static_cast<size_t>((n / B + 2) * B));
  int64_t next = 0;  // first possibly unplaced node in the caller's order
  const auto place = [&](int32_t v) {
    placed[v] = 1;
    slots.push_back(v);
  };
  int32_t seed = -1;
  while (true) {
    if (seed < 0) {
      while (next < n && placed[next]) ++next;
      if (next == n) break;
      seed = static_cast<int32_t>(next);
    }
    const size_t block_start = slots.size();
    const auto block_size = [&] { return slots.size() - block_start; };
    place(seed);
    // 1. The seed's neighbours that share the most neighbours with it.
    for (int64_t e = nb.offsets[seed]; e < nb.offsets[seed + 1]; ++e) stamp[nb.indices[e]] = seed;
    scored.clear();
    for (int64_t e = nb.offsets[seed]; e < nb.offsets[seed + 1]; ++e) {
      const int32_t c = nb.indices[e];
      if (placed[c]) continue;
      int64_t shared = 0;
      for (int64_t f = nb.offsets[c]; f < nb.offsets[c + 1]; ++f)
        shared += stamp[nb.indices[f]] == seed;
      scored.emplace_back(-shared, c);
    }
    // Most shared neighbours first; ties by node index, so the result is deterministic.
    const size_t take = std::min<size_t>(scored.size(), B - 1);
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(take),
                      scored.end());
    for (size_t i = 0; i < take; ++i) place(scored[i].second);
    // 2. Not full (the seed's neighbourhood is mostly placed already): grow
    //    through the neighbourhoods of the members, breadth first, so that
    //    leftover fragments join their nearest cluster instead of far nodes.
    for (size_t i = block_start; i < slots.size() && block_size() < size_t{B}; ++i) {
      const int32_t u = slots[i];
      for (int64_t e = nb.offsets[u]; e < nb.offsets[u + 1] && block_size() < size_t{B}; ++e)
        if (!placed[nb.indices[e]]) place(nb.indices[e]);
    }
    // 3. Still not full: the component is exhausted; continue in caller's order.
    for (int64_t v = next; v < n && block_size() < size_t{B}; ++v)
      if (!placed[v]) place(static_cast<int32_t>(v));
    // Next seed: an unplaced neighbour of a member, the first in the
    // caller's order. Clusters then sweep the graph contiguously, following
    // the caller's order where it is itself local (the banded RCM order of
    // the mesh: 39% of the visited pairs are neighbours on the 0.25-degree
    // mesh, against 35% when seeding at the node nearest the last seed).
    seed = -1;
    for (size_t i = block_start; i < slots.size(); ++i) {
      const int32_t u = slots[i];
      for (int64_t e = nb.offsets[u]; e < nb.offsets[u + 1]; ++e) {
        const int32_t c = nb.indices[e];
        if (!placed[c] && (seed < 0 || c < seed)) seed = c;
      }
    }
    slots.resize(block_start + B, -1);
  }
  return slots;
}

namespace {

// Calls f(r, q, k) for every neighbour k of the query q in each slot r of
// query block qb (padding slots skipped).
template <class F>
void for_each_block_neighbour(const Csr& nb, const AttentionTileLayout& L, int64_t qb, F&& f) {
  constexpr int B = kAttentionBlock;
  for (int64_t r = 0; r < B; ++r) {
    const int64_t q = L.slots[qb * B + r];
    if (q < 0) continue;
    for (int64_t e = nb.offsets[q]; e < nb.offsets[q + 1]; ++e) f(r, q, int64_t{nb.indices[e]});
  }
}

// Sets bit `bit` of a mask word for the pair (q, k); a pair met twice means
// q lists k twice.
void set_pair_bit(uint64_t& word, int64_t bit, int64_t q, int64_t k) {
  const uint64_t b = uint64_t{1} << bit;
  if (word & b) bad("node " + std::to_string(q) + " lists neighbour " + std::to_string(k) + " twice");
  word |= b;
}

// Sparse: each query block's key groups are the union of its queries'
// neighbourhoods in slot order, 64 per group (see the header).
void add_union_tiles(const Csr& nb, const std::vector<int32_t>& slot_of, AttentionTileLayout& L) {
  constexpr int B = kAttentionBlock;
  std::vector<int32_t> position(slot_of.size(), -1);  // in the current block's union
  std::vector<int32_t> keys;
  L.tile_offsets.assign(static_cast<size_t>(L.q_blocks) + 1, 0);
  L.masks.assign(B, 0);  // mask 0: the shared empty mask (no sparse tile uses it)
  for (int64_t qb = 0; qb < L.q_blocks; ++qb) {
    keys.clear();
    for_each_block_neighbour(nb, L, qb, [&](int64_t, int64_t, int64_t k) {
      if (position[k] < 0) {
        position[k] = 0;
        keys.push_back(static_cast<int32_t>(k));
      }
    });
    std::sort(keys.begin(), keys.end(),
              [&](int32_t a, int32_t b) { return slot_of[a] < slot_of[b]; });
    for (size_t i = 0; i < keys.size(); ++i) position[keys[i]] = static_cast<int32_t>(i);
    const auto groups = static_cast<int64_t>((keys.size() + B - 1) / B);
    const int64_t first_group = static_cast<int64_t>(L.key_slots.size()) / B;
    const int64_t first_mask = L.mask_count();
    if (first_group + groups > std::numeric_limits<int32_t>::max() / B ||
        first_mask + groups > std::numeric_limits<int32_t>::max())
      bad("too many tiles");
    L.key_slots.insert(L.key_slots.end(), keys.begin(), keys.end());
    L.key_slots.resize(static_cast<size_t>((first_group + groups) * B), -1);
    L.masks.resize(static_cast<size_t>((first_mask + groups) * B), 0);
    for (int64_t g = 0; g < groups; ++g) {
      L.tile_key_block.push_back(static_cast<int32_t>(first_group + g));
      L.tile_mask.push_back(static_cast<int32_t>(first_mask + g));
    }
    for_each_block_neighbour(nb, L, qb, [&](int64_t r, int64_t q, int64_t k) {
      const int64_t p = position[k];
      set_pair_bit(L.masks[static_cast<size_t>((first_mask + p / B) * B + r)], p % B, q, k);
    });
    for (int32_t k : keys) position[k] = -1;
    L.tile_offsets[static_cast<size_t>(qb) + 1] = static_cast<int32_t>(L.tiles());
  }
  L.k_blocks = static_cast<int64_t>(L.key_slots.size()) / B;
}

}  // namespace

AttentionTileLayout build_attention_tiles(const Csr& nb, AttentionTiles mode) {
  constexpr int B = kAttentionBlock;
  validate(nb);
  const int64_t n = nb.rows();
  AttentionTileLayout L;
  L.nodes = n;
  if (mode == AttentionTiles::sparse) {
    L.slots = cluster_slots(nb);
  } else {
    L.slots.assign(static_cast<size_t>((n + B - 1) / B * B), -1);
    for (int64_t i = 0; i < n; ++i) L.slots[i] = static_cast<int32_t>(i);
  }
  L.q_blocks = static_cast<int64_t>(L.slots.size()) / B;
  if (L.q_blocks > std::numeric_limits<int32_t>::max() / B) bad("too many nodes");
  std::vector<int32_t> slot_of(static_cast<size_t>(n), -1);
  for (size_t s = 0; s < L.slots.size(); ++s)
    if (L.slots[s] >= 0) slot_of[L.slots[s]] = static_cast<int32_t>(s);
  if (mode == AttentionTiles::sparse) {
    add_union_tiles(nb, slot_of, L);
    return L;
  }
  L.key_slots = L.slots;
  L.k_blocks = L.q_blocks;

  L.tile_offsets.assign(static_cast<size_t>(L.q_blocks) + 1, 0);
  L.masks.assign(B, 0);  // mask 0: the shared empty mask
  // Per query block: which mask (if any) each key block got; reset after use.
  std::vector<int32_t> mask_of_kb(static_cast<size_t>(L.k_blocks), -1);
  std::vector<int32_t> touched;
  for (int64_t qb = 0; qb < L.q_blocks; ++qb) {
    touched.clear();
    for_each_block_neighbour(nb, L, qb, [&](int64_t r, int64_t q, int64_t k) {
      const int64_t ks = slot_of[k];
      const auto kb = static_cast<size_t>(ks / B);
      if (mask_of_kb[kb] < 0) {
        if (L.mask_count() >= std::numeric_limits<int32_t>::max()) bad("too many tiles");
        mask_of_kb[kb] = static_cast<int32_t>(L.mask_count());
        L.masks.resize(L.masks.size() + B, 0);
        touched.push_back(static_cast<int32_t>(kb));
      }
      set_pair_bit(L.masks[static_cast<size_t>(mask_of_kb[kb]) * B + r], ks % B, q, k);
    });
    std::sort(touched.begin(), touched.end());
    auto visit = [&](int64_t kb) {
      const int32_t m = mask_of_kb[static_cast<size_t>(kb)];
      L.tile_key_block.push_back(static_cast<int32_t>(kb));
      L.tile_mask.push_back(m < 0 ? 0 : m);
    };
    if (mode == AttentionTiles::dense) {
      for (int64_t kb = 0; kb < L.k_blocks; ++kb) visit(kb);
    } else if (!touched.empty()) {
      for (int64_t kb = touched.front(); kb <= touched.back(); ++kb) visit(kb);
    }
    if (L.tiles() > std::numeric_limits<int32_t>::max()) bad("too many tiles");
    L.tile_offsets[static_cast<size_t>(qb) + 1] = static_cast<int32_t>(L.tiles());
    for (int32_t kb : touched) mask_of_kb[static_cast<size_t>(kb)] = -1;
  }
  return L;
}

AttentionTileLayout without_empty_tiles(AttentionTileLayout layout) {
  size_t kept = 0;
  for (int64_t qb = 0; qb < layout.q_blocks; ++qb) {
    const auto begin = static_cast<size_t>(layout.tile_offsets[static_cast<size_t>(qb)]);
    const auto end = static_cast<size_t>(layout.tile_offsets[static_cast<size_t>(qb) + 1]);
    layout.tile_offsets[static_cast<size_t>(qb)] = static_cast<int32_t>(kept);
    for (size_t t = begin; t < end; ++t) {
      if (layout.tile_mask[t] == 0) continue;
      layout.tile_key_block[kept] = layout.tile_key_block[t];
      layout.tile_mask[kept] = layout.tile_mask[t];
      ++kept;
    }
  }
  layout.tile_offsets[static_cast<size_t>(layout.q_blocks)] = static_cast<int32_t>(kept);
  layout.tile_key_block.resize(kept);
  layout.tile_mask.resize(kept);
  return layout;
}

}  // namespace gencast::cuda
