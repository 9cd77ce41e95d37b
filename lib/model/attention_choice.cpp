// Resolving --attention against the checkpoint's sparse_transformer_config.
#include "model/attention_choice.h"

#include "core/error.h"
#include "model/config_validation.h"

namespace gencast {
namespace {

constexpr const char* kTransformerKey = "denoiser_architecture_config:sparse_transformer_config:";

std::string quoted_list(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", '" : "'") + values[i] + "'";
  return out;
}

void require_one_of(const std::string& field, const std::string& value,
                    const std::vector<std::string>& accepted) {
  for (const auto& a : accepted)
    if (value == a) return;
  fail_input("", field, "one of " + quoted_list(accepted), "'" + value + "'");
}

}  // namespace

const std::vector<std::string>& accepted_attention_requests() {
  static const std::vector<std::string> v{"auto", "triblockdiag", "sparse", "dense"};
  return v;
}

std::string attention_kind_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::sparse: return "sparse";
    case AttentionKind::triblockdiag: return "triblockdiag";
    case AttentionKind::dense: return "dense";
  }
  return "?";
}

AttentionChoice resolve_attention(const SparseTransformerConfig& config,
                                  const std::string& requested) {
  require_one_of("--attention", requested, accepted_attention_requests());
  require_one_of(std::string(kTransformerKey) + "attention_type", config.attention_type,
                 accepted_attention_types());
  require_one_of(std::string(kTransformerKey) + "mask_type", config.mask_type,
                 accepted_mask_types());

  AttentionChoice choice;
  const bool splash = config.attention_type == "splash_mha";
  const bool lazy = config.mask_type == "lazy";
  if (splash || lazy) {
    choice.patched = true;
    std::string changes;
    if (splash) changes = "attention_type splash_mha -> triblockdiag_mha";
    if (lazy) changes += std::string(changes.empty() ? "" : ", ") + "mask_type lazy -> full";
    choice.patch_line = changes +
                        " (TPU-only splash attention replaced by the exact GPU path; same k-hop "
                        "mask)";
  }

  const std::string hops = std::to_string(config.attention_k_hop) + "-hop";
  if (requested == "auto" || requested == "sparse") {
    choice.kind = AttentionKind::sparse;
    choice.description = "exact attention over each mesh node's " + hops +
                         " neighbourhood, computed block-sparse (the fastest exact form)";
  } else if (requested == "triblockdiag") {
    choice.kind = AttentionKind::triblockdiag;
    choice.description = "exact attention over the " + hops +
                         " mask in the reference's tri-block-diagonal layout";
  } else {
    choice.kind = AttentionKind::dense;
    choice.description = "exact attention with a dense " + hops +
                         " mask (memory grows with nodes squared; for checking)";
  }
  choice.description = (requested == "auto" ? "auto -> " : "") + attention_kind_name(choice.kind) +
                       ": " + choice.description;
  return choice;
}

std::string attention_status_line(const SparseTransformerConfig& config,
                                  const AttentionChoice& choice) {
  if (choice.patched) return choice.patch_line;
  return "no patch needed: " + config.attention_type + "/" + config.mask_type + " is GPU-ready";
}

}  // namespace gencast
