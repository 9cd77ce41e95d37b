// k-hop neighbourhoods by bounded breadth-first search (see
// attention_neighbourhood.h). Two passes (count, then fill) keep peak memory
// at the size of the result (~33 M entries at mesh 6, k = 16).
#include "graph/attention_neighbourhood.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "core/parallel.h"

namespace gencast {
namespace {

// Per-range BFS state; `stamp` avoids clearing the visited array per source.
class HopSearch {
 public:
  explicit HopSearch(int64_t n) : seen_(static_cast<size_t>(n), 0) {}

  // Nodes within k hops of `source`, in discovery order, into `out`.
  void run(const Adjacency& adj, int32_t source, int k, std::vector<int32_t>& out) {
    ++stamp_;
    out.clear();
    out.push_back(source);
    seen_[source] = stamp_;
    size_t level_begin = 0;
    for (int hop = 0; hop < k; ++hop) {
      const size_t level_end = out.size();
      if (level_begin == level_end) break;
      for (size_t i = level_begin; i < level_end; ++i) {
        const int32_t node = out[i];
        for (int64_t e = adj.offsets[node]; e < adj.offsets[node + 1]; ++e) {
          const int32_t nb = adj.neighbours[e];
          if (seen_[nb] != stamp_) {
            seen_[nb] = stamp_;
            out.push_back(nb);
          }
        }
      }
      level_begin = level_end;
    }
  }

 private:
  std::vector<uint32_t> seen_;
  uint32_t stamp_ = 0;
};

// Rows per thread for a search from every node: the k-hop ball of a
// triangulated sphere holds ~3k(k+1)+1 nodes (fewer on a small mesh), each
// scanning its neighbours.
int64_t search_min_rows(const Adjacency& adj, int k) {
  const int64_t n = adj.nodes();
  const int64_t ball = std::min<int64_t>(n, 3 * int64_t{k} * (k + 1) + 1);
  const int64_t degree = static_cast<int64_t>(adj.neighbours.size()) / std::max<int64_t>(n, 1);
  return parallel_min_rows(ball * std::max<int64_t>(degree, 1));
}

}  // namespace

Csr k_hop_neighbourhood(const Adjacency& adj, int k) {
  if (k < 0) throw std::invalid_argument("k_hop_neighbourhood: k must be >= 0");
  const int64_t n = adj.nodes();
  Csr csr;
  csr.offsets.assign(static_cast<size_t>(n) + 1, 0);
  // Every node's ball costs about the same on the near-uniform mesh, so
  // contiguous ranges balance.
  const int64_t min_rows = search_min_rows(adj, k);
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        HopSearch search(n);
        std::vector<int32_t> found;
        for (int64_t i = i0; i < i1; ++i) {
          search.run(adj, static_cast<int32_t>(i), k, found);
          csr.offsets[i + 1] = static_cast<int64_t>(found.size());
        }
      },
      min_rows);
  for (int64_t i = 0; i < n; ++i) csr.offsets[i + 1] += csr.offsets[i];
  csr.indices.resize(static_cast<size_t>(csr.offsets[n]));
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        HopSearch search(n);
        std::vector<int32_t> found;
        for (int64_t i = i0; i < i1; ++i) {
          search.run(adj, static_cast<int32_t>(i), k, found);
          std::sort(found.begin(), found.end());
          std::copy(found.begin(), found.end(),
                    csr.indices.begin() + static_cast<std::ptrdiff_t>(csr.offsets[i]));
        }
      },
      min_rows);
  return csr;
}

int64_t banded_block_size(const Csr& mask) {
  int64_t widest = -1;
  for (int64_t i = 0; i < mask.rows(); ++i) {
    for (int64_t e = mask.offsets[i]; e < mask.offsets[i + 1]; ++e) {
      widest = std::max(widest, std::abs(i - static_cast<int64_t>(mask.indices[e])));
    }
  }
  return widest + 1;
}

TriBlockLayout tri_block_layout(const Csr& mask) {
  TriBlockLayout t;
  t.block_size = banded_block_size(mask);
  if (t.block_size == 0) return t;
  const int64_t rows = mask.rows();
  t.num_blocks = (rows + t.block_size - 1) / t.block_size;
  t.padding_nodes = t.num_blocks * t.block_size - rows;
  return t;
}

}  // namespace gencast
