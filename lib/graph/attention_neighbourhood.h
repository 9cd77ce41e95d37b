// k-hop attention neighbourhoods of the mesh transformer.
//
// The reference builds the boolean adjacency of the mesh edges plus self
// loops and raises it to the power attention_k_hop: mesh node i attends to
// every node within k hops, itself included. The mask is a property of the
// graph; only its layout depends on the node order. In the banded (RCM)
// order it fits a tri-block-diagonal layout, which the reference's
// triblockdiag_mha uses: block size = bandwidth + 1, the node count padded up
// to a multiple of it.
//
// Invariants: rows sorted ascending, no duplicates, i is in row i.
#pragma once

#include <cstdint>

#include "core/csr.h"
#include "graph/mesh_order.h"

namespace gencast {

// Neighbourhoods within k hops (k >= 0; k = 0 gives self only).
Csr k_hop_neighbourhood(const Adjacency& adjacency, int k);

// max |i - j| + 1 over the entries (the reference's mask_block_size); 0 for
// an empty matrix.
int64_t banded_block_size(const Csr& mask);

// The reference's tri-block-diagonal layout of a mask in its current order.
struct TriBlockLayout {
  int64_t block_size = 0;     // banded_block_size(mask)
  int64_t padding_nodes = 0;  // to make rows a multiple of block_size
  int64_t num_blocks = 0;     // (rows + padding) / block_size
};
TriBlockLayout tri_block_layout(const Csr& mask);

}  // namespace gencast
