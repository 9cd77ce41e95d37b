// Consistency checks on a checkpoint's configuration, all reported at once.
//
// A config passes when the denoiser it describes can be built and run by
// this engine: sizes positive and compatible (d_model divisible by heads and
// equal to the latent size), a known attention type and mask type, a mesh we
// can build, an output size matching the task, a sampler whose noise schedule
// is well defined. Problems name the checkpoint key (e.g.
// "denoiser_architecture_config:sparse_transformer_config:num_heads").
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"
#include "core/error.h"

namespace gencast {

// Accepted values, in the order messages list them.
const std::vector<std::string>& accepted_attention_types();  // splash_mha, triblockdiag_mha, mha
const std::vector<std::string>& accepted_mask_types();       // lazy, full
const std::vector<std::string>& accepted_norm_conditioning_features();

// Every problem found, each naming `file` and the checkpoint key.
std::vector<Problem> model_config_problems(const ModelConfig& config, const std::string& file);
// Throws InputError with every problem (exit code 2) if there is any.
void validate_model_config(const ModelConfig& config, const std::string& file);

}  // namespace gencast
