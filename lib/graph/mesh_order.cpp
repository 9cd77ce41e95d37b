// Reverse Cuthill-McKee ordering of the mesh (see mesh_order.h).
#include "graph/mesh_order.h"

#include <algorithm>
#include <numeric>

namespace gencast {

Adjacency mesh_adjacency(const TriMesh& mesh) {
  const size_t n = mesh.vertices.size();
  std::vector<std::vector<int32_t>> lists(n);
  for (const auto& f : mesh.faces) {
    for (int k = 0; k < 3; ++k) {
      const int32_t a = f[k];
      const int32_t b = f[(k + 1) % 3];
      lists[a].push_back(b);
      lists[b].push_back(a);
    }
  }
  Adjacency adj;
  adj.offsets.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    auto& l = lists[i];
    std::sort(l.begin(), l.end());
    l.erase(std::unique(l.begin(), l.end()), l.end());
    l.erase(std::remove(l.begin(), l.end(), static_cast<int32_t>(i)), l.end());
    adj.offsets[i + 1] = adj.offsets[i] + static_cast<int64_t>(l.size());
  }
  adj.neighbours.reserve(static_cast<size_t>(adj.offsets[n]));
  for (const auto& l : lists) adj.neighbours.insert(adj.neighbours.end(), l.begin(), l.end());
  return adj;
}

std::vector<int32_t> reverse_cuthill_mckee(const Adjacency& adj) {
  const int64_t n = adj.nodes();
  std::vector<int64_t> degree(n);
  for (int64_t i = 0; i < n; ++i) degree[i] = adj.offsets[i + 1] - adj.offsets[i];

  // Seeds in order of increasing degree, ties by index (a stable argsort).
  std::vector<int32_t> seeds(n);
  std::iota(seeds.begin(), seeds.end(), 0);
  std::stable_sort(seeds.begin(), seeds.end(),
                   [&](int32_t a, int32_t b) { return degree[a] < degree[b]; });

  std::vector<int32_t> order;
  order.reserve(n);
  std::vector<char> visited(n, 0);
  for (int32_t seed : seeds) {
    if (static_cast<int64_t>(order.size()) == n) break;
    if (visited[seed]) continue;
    visited[seed] = 1;
    order.push_back(seed);
    // Breadth-first: each node appends its unvisited neighbours (ascending
    // index), then those few are stably sorted by degree.
    for (size_t head = order.size() - 1; head < order.size(); ++head) {
      const int32_t node = order[head];
      const size_t first_new = order.size();
      for (int64_t e = adj.offsets[node]; e < adj.offsets[node + 1]; ++e) {
        const int32_t nb = adj.neighbours[e];
        if (!visited[nb]) {
          visited[nb] = 1;
          order.push_back(nb);
        }
      }
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(first_new), order.end(),
                       [&](int32_t a, int32_t b) { return degree[a] < degree[b]; });
    }
  }
  std::reverse(order.begin(), order.end());
  return order;
}

std::vector<int32_t> reverse_cuthill_mckee(const TriMesh& mesh) {
  return reverse_cuthill_mckee(mesh_adjacency(mesh));
}

}  // namespace gencast
