// Random-weights checkpoints of the official GenCast architectures.
//
// Used to benchmark and test without downloading trained weights: the cost
// of a denoiser call does not depend on the weight values. Presets:
//   1p0deg   official 1.0 deg model (mesh 5)
//   0p25deg  official 0.25 deg model (mesh 6)
//   mini     official 1.0 deg Mini model (mesh 4)
//   tiny     the reference fixture's model (mesh 3, latent 32, 2 layers)
// The official presets keep the checkpoints' attention settings
// (splash_mha / lazy) so that loading them shows the GPU patch.
// random_params draws weights N(0, 1/fan_in) and biases N(0, 0.01^2) from a
// portable generator: the same seed gives the same values on every platform.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "config/param_store.h"

namespace gencast {

// "1p0deg", "0p25deg", "mini", "tiny".
const std::vector<std::string>& official_presets();

// The config of a preset; InputError (field "preset") for an unknown name.
ModelConfig official_model_config(const std::string& preset);

// Every parameter of expected_param_shapes(config), randomly initialised.
// Each parameter has its own stream (seed and name), so values do not depend
// on which other parameters exist.
ParamStore random_params(const ModelConfig& config, uint64_t seed);

// Writes the official npz layout (configs as 0-d arrays, "params:" float32
// arrays). Writes to a temporary name and renames: no partial file remains.
void write_checkpoint(const std::string& path, const ModelConfig& config,
                      const ParamStore& params);

}  // namespace gencast
