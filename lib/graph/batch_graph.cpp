#include "graph/batch_graph.h"

#include <stdexcept>

namespace gencast {
namespace {

EdgeSet replicate_edges(const EdgeSet& e, int64_t copies, int64_t n_senders,
                        int64_t n_receivers) {
  EdgeSet out;
  const int64_t E = e.size();
  const int64_t R = static_cast<int64_t>(e.receiver_offsets.size()) - 1;
  if (R != n_receivers) throw std::logic_error("replicate_graph: receiver count mismatch");
  if ((n_senders * copies) > INT32_MAX || (n_receivers * copies) > INT32_MAX ||
      E * copies > INT32_MAX)
    throw std::invalid_argument("replicate_graph: the batched graph exceeds 32-bit indices");
  out.senders.reserve(static_cast<size_t>(E * copies));
  out.receivers.reserve(static_cast<size_t>(E * copies));
  out.receiver_offsets.reserve(static_cast<size_t>(R * copies + 1));
  out.receiver_offsets.push_back(0);
  for (int64_t b = 0; b < copies; ++b) {
    const auto so = static_cast<int32_t>(b * n_senders), ro = static_cast<int32_t>(b * n_receivers);
    const auto eo = static_cast<int32_t>(b * E);
    for (int64_t i = 0; i < E; ++i) {
      out.senders.push_back(e.senders[static_cast<size_t>(i)] + so);
      out.receivers.push_back(e.receivers[static_cast<size_t>(i)] + ro);
    }
    for (int64_t r = 1; r <= R; ++r) out.receiver_offsets.push_back(e.receiver_offsets[static_cast<size_t>(r)] + eo);
  }
  out.features = tile_rows(e.features, copies);
  return out;
}

}  // namespace

DenoiserGraph replicate_graph(const DenoiserGraph& g, int64_t copies) {
  if (copies < 1) throw std::invalid_argument("replicate_graph: copies must be >= 1");
  DenoiserGraph out = g;
  if (copies == 1) return out;
  out.n_grid = g.n_grid * copies;
  out.n_mesh = g.n_mesh * copies;
  out.n_mesh_edges = g.n_mesh_edges * copies;
  out.grid_node_features = tile_rows(g.grid_node_features, copies);
  out.mesh_node_features = tile_rows(g.mesh_node_features, copies);
  out.grid2mesh = replicate_edges(g.grid2mesh, copies, g.n_grid, g.n_mesh);
  out.mesh_edges = replicate_edges(g.mesh_edges, copies, g.n_mesh, g.n_mesh);
  out.mesh2grid = replicate_edges(g.mesh2grid, copies, g.n_mesh, g.n_grid);
  const Csr& a = g.attention;
  Csr& o = out.attention;
  o.offsets.assign(1, 0);
  o.indices.clear();
  o.offsets.reserve(static_cast<size_t>(a.rows() * copies + 1));
  o.indices.reserve(static_cast<size_t>(a.nnz() * copies));
  for (int64_t b = 0; b < copies; ++b) {
    const auto shift = static_cast<int32_t>(b * g.n_mesh);
    for (int32_t j : a.indices) o.indices.push_back(j + shift);
    for (int64_t r = 1; r <= a.rows(); ++r)
      o.offsets.push_back(a.offsets[static_cast<size_t>(r)] + b * a.nnz());
  }
  return out;
}

}  // namespace gencast
