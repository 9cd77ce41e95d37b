// Which exact attention the processor runs, and the GPU patch of TPU configs.
//
// The reference's three attention types (splash_mha, triblockdiag_mha, mha)
// compute the same function: softmax attention of every mesh node over the
// nodes within attention_k_hop hops (self included). Only their layout and
// kernels differ. splash_mha and mask_type "lazy" are TPU-only Pallas
// kernels, so a checkpoint asking for them is patched to the exact GPU form
// (triblockdiag_mha with a full mask, same k-hop mask): the numbers the model
// computes do not change. On top of that, the user picks our implementation:
//   auto         -> sparse (the fastest exact form)
//   sparse       -> exact neighbourhood / block-sparse attention
//   triblockdiag -> the reference's tri-block-diagonal layout
//   dense        -> dense masked attention (O(nodes^2) memory; for checking)
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"

namespace gencast {

enum class AttentionKind { sparse, triblockdiag, dense };

struct AttentionChoice {
  AttentionKind kind = AttentionKind::sparse;
  bool patched = false;    // the checkpoint asked for a TPU-only kernel
  std::string patch_line;  // one line saying what changed; empty when not patched
  std::string description; // what will run, one line
};

// The values accepted by --attention.
const std::vector<std::string>& accepted_attention_requests();  // auto, triblockdiag, sparse, dense

// Throws InputError (field "--attention") for a request not in the accepted
// list, and for an attention_type/mask_type the reference does not know.
AttentionChoice resolve_attention(const SparseTransformerConfig& config,
                                  const std::string& requested);

// "sparse", "triblockdiag" or "dense".
std::string attention_kind_name(AttentionKind kind);

// The patch line, or "no patch needed: <type>/<mask> is GPU-ready".
std::string attention_status_line(const SparseTransformerConfig& config,
                                  const AttentionChoice& choice);

}  // namespace gencast
