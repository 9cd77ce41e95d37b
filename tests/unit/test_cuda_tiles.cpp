// The attention tile layout (kernels/attention_tiles.h) is host code, so it
// is checked here without a GPU: every neighbour pair sets exactly one bit in
// a visited tile, and each mode visits exactly the key blocks it promises
// (derived independently from the CSR below). Built only with the CUDA backend.
#include <catch2/catch.hpp>

#if GENCAST_WITH_CUDA

#include <algorithm>
#include <bit>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "attention_tiles.h"
#include "backend/backend.h"

using namespace gencast;
using namespace gencast::cuda;

namespace {

Csr random_csr(int64_t n, int per_row, uint32_t seed) {
  std::mt19937 rng(seed);
  Csr csr;
  csr.offsets.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    std::set<int32_t> nb{static_cast<int32_t>(i)};
    // Mostly near the diagonal, sometimes far: both kinds of tiles occur.
    for (int k = 0; k < per_row; ++k) {
      const int64_t j = (rng() % 5 == 0) ? rng() % n : std::clamp<int64_t>(i + int64_t(rng() % 81) - 40, 0, n - 1);
      nb.insert(static_cast<int32_t>(j));
    }
    if (i == 70) nb.clear();  // an empty row
    csr.indices.insert(csr.indices.end(), nb.begin(), nb.end());
    csr.offsets.push_back(static_cast<int64_t>(csr.indices.size()));
  }
  return csr;
}

void check_layout(const Csr& csr, AttentionTiles mode) {
  INFO("mode " << attention_tiles_name(mode));
  const AttentionTileLayout L = build_attention_tiles(csr, mode);
  const int64_t n = csr.rows(), B = kAttentionBlock;
  REQUIRE(L.slots.size() % B == 0);
  REQUIRE(L.q_blocks == static_cast<int64_t>(L.slots.size()) / B);
  REQUIRE(L.key_slots.size() % B == 0);
  REQUIRE(L.k_blocks == static_cast<int64_t>(L.key_slots.size()) / B);
  if (mode != AttentionTiles::sparse) REQUIRE(L.key_slots == L.slots);
  // Every node in exactly one slot; banded and dense keep the caller's order.
  std::vector<int64_t> slot_of(static_cast<size_t>(n), -1);
  for (size_t s = 0; s < L.slots.size(); ++s) {
    const int32_t v = L.slots[s];
    if (v < 0) continue;
    REQUIRE(v < n);
    REQUIRE(slot_of[v] == -1);
    slot_of[v] = static_cast<int64_t>(s);
    if (mode != AttentionTiles::sparse) REQUIRE(static_cast<int64_t>(s) == v);
  }
  for (int64_t v = 0; v < n; ++v) REQUIRE(slot_of[v] >= 0);
  if (mode != AttentionTiles::sparse) REQUIRE(L.q_blocks == (n + B - 1) / B);
  REQUIRE(L.tile_offsets.size() == static_cast<size_t>(L.q_blocks + 1));
  REQUIRE(L.tile_offsets.front() == 0);
  REQUIRE(L.tile_offsets.back() == L.tiles());
  for (int i = 0; i < B; ++i) REQUIRE(L.masks[i] == 0);  // mask 0 is empty

  int64_t bits = 0, next_group = 0;
  for (int64_t qb = 0; qb < L.q_blocks; ++qb) {
    // The block's neighbours, and its key blocks in the slot order.
    std::set<int64_t> touched;
    std::set<int32_t> neighbours;
    for (int64_t r = 0; r < B; ++r) {
      const int64_t q = L.slots[qb * B + r];
      if (q < 0) continue;
      for (int64_t e = csr.offsets[q]; e < csr.offsets[q + 1]; ++e) {
        touched.insert(slot_of[csr.indices[e]] / B);
        neighbours.insert(csr.indices[e]);
      }
    }
    std::vector<int32_t> got(L.tile_key_block.begin() + L.tile_offsets[qb],
                             L.tile_key_block.begin() + L.tile_offsets[qb + 1]);
    if (mode == AttentionTiles::sparse) {
      // Key groups of its own, in order, holding the union of its queries'
      // neighbourhoods, each node once, in slot order; padding only at the end.
      std::vector<int32_t> keys;
      for (int32_t kg : got) {
        REQUIRE(kg == next_group++);
        for (int64_t j = 0; j < B; ++j) {
          const int32_t k = L.key_slots[kg * B + j];
          if (k >= 0) keys.push_back(k);
          else REQUIRE(kg == got.back());
        }
      }
      REQUIRE(keys.size() == neighbours.size());
      REQUIRE(std::set<int32_t>(keys.begin(), keys.end()) == neighbours);
      REQUIRE(std::is_sorted(keys.begin(), keys.end(),
                             [&](int32_t a, int32_t b) { return slot_of[a] < slot_of[b]; }));
      REQUIRE(got.size() == (neighbours.size() + B - 1) / B);
      REQUIRE(got.size() <= touched.size());  // never more tiles than blocks of the slot order
    } else {
      std::vector<int32_t> expect;
      if (mode == AttentionTiles::dense) {
        for (int64_t kb = 0; kb < L.k_blocks; ++kb) expect.push_back(static_cast<int32_t>(kb));
      } else if (!touched.empty()) {
        for (int64_t kb = *touched.begin(); kb <= *touched.rbegin(); ++kb)
          expect.push_back(static_cast<int32_t>(kb));
      }
      REQUIRE(got == expect);
    }
    // Each visited tile's mask holds exactly the neighbours among its key slots.
    for (int32_t t = L.tile_offsets[qb]; t < L.tile_offsets[qb + 1]; ++t) {
      const int64_t kg = L.tile_key_block[t];
      const uint64_t* mask = L.masks.data() + int64_t{L.tile_mask[t]} * B;
      if (mode == AttentionTiles::sparse) REQUIRE(L.tile_mask[t] != 0);
      for (int64_t r = 0; r < B; ++r) {
        const int64_t q = L.slots[qb * B + r];
        uint64_t want = 0;
        if (q >= 0)
          for (int64_t j = 0; j < B; ++j) {
            const int32_t k = L.key_slots[kg * B + j];
            if (k >= 0 && std::binary_search(csr.indices.begin() + csr.offsets[q],
                                             csr.indices.begin() + csr.offsets[q + 1], k))
              want |= uint64_t{1} << j;
          }
        REQUIRE(mask[r] == want);
        bits += std::popcount(mask[r]);
      }
    }
  }
  if (mode == AttentionTiles::sparse) REQUIRE(next_group == L.k_blocks);
  REQUIRE(bits == csr.nnz());  // every pair counted once, no pair lost
}

}  // namespace

TEST_CASE("attention tiles cover every neighbour exactly once in each mode", "[cuda]") {
  for (int64_t n : {1, 63, 64, 65, 642, 1000}) {
    INFO("n = " << n);
    const Csr csr = random_csr(n, 12, static_cast<uint32_t>(n));
    for (AttentionTiles mode : {AttentionTiles::sparse, AttentionTiles::banded, AttentionTiles::dense})
      check_layout(csr, mode);
  }
}

TEST_CASE("sparse attention slots group each node with its closest neighbours", "[cuda]") {
  // A ring of 640 nodes, each attending to the 40 nearest on either side, in
  // a scrambled node order (where banded = dense: 10 x 10 tiles). The best
  // blocks are 64 consecutive ring positions (~3-4 key blocks each). The
  // greedy sweep must find nearly that: all blocks but the last (which
  // collects what the sweep left behind) within a 2 x 64 arc, and far fewer
  // tiles than the scrambled order.
  const int64_t n = 640, reach = 40;
  std::vector<int32_t> label(n);
  for (int64_t i = 0; i < n; ++i) label[i] = static_cast<int32_t>((i * 263) % n);  // 263 coprime to 640
  Csr csr;
  csr.offsets.push_back(0);
  std::vector<std::vector<int32_t>> rows(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = -reach; d <= reach; ++d) rows[label[i]].push_back(label[(i + d + n) % n]);
  for (auto& r : rows) {
    std::sort(r.begin(), r.end());
    csr.indices.insert(csr.indices.end(), r.begin(), r.end());
    csr.offsets.push_back(static_cast<int64_t>(csr.indices.size()));
  }
  const std::vector<int32_t> slots = cluster_slots(csr);
  REQUIRE(slots.size() == static_cast<size_t>(n));  // 10 full blocks, no padding
  std::vector<int64_t> ring_pos(n);
  for (int64_t i = 0; i < n; ++i) ring_pos[label[i]] = i;
  const size_t blocks = slots.size() / kAttentionBlock;
  for (size_t b = 0; b + 1 < blocks; ++b) {
    std::vector<int64_t> pos;
    for (int r = 0; r < kAttentionBlock; ++r) pos.push_back(ring_pos[slots[b * kAttentionBlock + r]]);
    std::sort(pos.begin(), pos.end());
    int64_t widest_gap = 0;  // the arc's complement is the widest gap around the ring
    for (size_t i = 0; i < pos.size(); ++i)
      widest_gap = std::max(widest_gap, (pos[(i + 1) % pos.size()] - pos[i] + n) % n);
    INFO("block " << b << " spans " << n - widest_gap << " ring positions");
    CHECK(n - widest_gap <= 2 * kAttentionBlock);
  }
  CHECK(build_attention_tiles(csr, AttentionTiles::sparse).tiles() * 2 <
        build_attention_tiles(csr, AttentionTiles::banded).tiles());
}

TEST_CASE("attention tiles without empty tiles keep every tile with neighbours, in order", "[cuda]") {
  // A narrow band: dense visits many key blocks without a neighbour.
  Csr csr;
  csr.offsets.push_back(0);
  for (int32_t i = 0; i < 1000; ++i) {
    for (int32_t k = std::max(0, i - 3); k <= std::min(999, i + 3); ++k) csr.indices.push_back(k);
    csr.offsets.push_back(static_cast<int64_t>(csr.indices.size()));
  }
  for (AttentionTiles mode : {AttentionTiles::sparse, AttentionTiles::banded, AttentionTiles::dense}) {
    INFO("mode " << attention_tiles_name(mode));
    const AttentionTileLayout full = build_attention_tiles(csr, mode);
    const AttentionTileLayout kept = without_empty_tiles(full);
    CHECK(kept.slots == full.slots);
    CHECK(kept.masks == full.masks);
    REQUIRE(kept.q_blocks == full.q_blocks);
    REQUIRE(kept.tile_offsets.size() == full.tile_offsets.size());
    int64_t empty = 0;
    for (int64_t qb = 0; qb < full.q_blocks; ++qb) {
      std::vector<std::pair<int32_t, int32_t>> want, got;
      for (int32_t t = full.tile_offsets[qb]; t < full.tile_offsets[qb + 1]; ++t) {
        if (full.tile_mask[t] == 0) ++empty;
        else want.emplace_back(full.tile_key_block[t], full.tile_mask[t]);
      }
      for (int32_t t = kept.tile_offsets[qb]; t < kept.tile_offsets[qb + 1]; ++t)
        got.emplace_back(kept.tile_key_block[t], kept.tile_mask[t]);
      REQUIRE(got == want);
    }
    CHECK(kept.tiles() + empty == full.tiles());
    CHECK(kept.tile_offsets.back() == kept.tiles());
    // Sparse visits only tiles with neighbours; dense visits all 16 x 16.
    if (mode == AttentionTiles::sparse) CHECK(empty == 0);
    if (mode == AttentionTiles::dense) CHECK(empty > 0);
  }
}

TEST_CASE("attention tiles reject malformed neighbourhoods", "[cuda]") {
  Csr dup;
  dup.offsets = {0, 2, 3};
  dup.indices = {1, 1, 0};  // node 0 lists 1 twice
  for (AttentionTiles mode : {AttentionTiles::sparse, AttentionTiles::banded, AttentionTiles::dense})
    CHECK_THROWS_WITH(build_attention_tiles(dup, mode),
                      Catch::Contains("node 0 lists neighbour 1 twice"));
  Csr out_of_range;
  out_of_range.offsets = {0, 1, 2};
  out_of_range.indices = {0, 2};  // node 2 does not exist
  CHECK_THROWS_AS(build_attention_tiles(out_of_range, AttentionTiles::banded), std::invalid_argument);
  Csr decreasing;
  decreasing.offsets = {0, 2, 1};
  decreasing.indices = {0, 1};
  CHECK_THROWS_AS(build_attention_tiles(decreasing, AttentionTiles::dense), std::invalid_argument);
}

#endif  // GENCAST_WITH_CUDA
