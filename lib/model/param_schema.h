// The parameter tree a GenCast denoiser of a given configuration has.
//
// expected_param_shapes() returns exactly the haiku parameters the reference
// builds (names without the "params:" prefix, shapes as stored: linear w is
// [in, out], b is [out]). Every size is derived from the config, never fixed
// to the official model, so any consistent checkpoint validates.
//
// Channel counts follow the reference stacking: each input variable brings
// (input frames) x (pressure levels if atmospheric, else 1) channels, static
// variables one channel; forcings and noisy targets one frame each; then the
// grid and mesh node embedders see 3 structural node features more.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "config/model_config.h"
#include "core/array.h"

namespace gencast {

// Structural features the reference computes from lat/lon (fixed by its
// spatial-feature options): cos(lat), sin(lon), cos(lon) per node; the 3-d
// relative position in the receiver's local frame plus its length per edge.
inline constexpr int64_t kStructuralNodeFeatures = 3;
inline constexpr int64_t kStructuralEdgeFeatures = 4;

// True for the reference's ALL_ATMOSPHERIC_VARS (variables on pressure
// levels); the same list as data/variables.h has_levels(). Input frames and
// static variables come from data/variables.h (input_frame_count,
// is_static_variable).
bool is_atmospheric_variable(const std::string& name);

// Channels the grid-node embedder sees: stacked inputs + stacked forcings +
// stacked targets + 3 structural features (267 for the official task).
int64_t grid_node_input_size(const TaskConfig& task);
// Output channels of the decoder: one per target level (84 for the official task).
int64_t node_output_size(const TaskConfig& task);
// The config's node_output_size when set, else the task's.
int64_t effective_node_output_size(const ModelConfig& config);

std::map<std::string, Shape> expected_param_shapes(const ModelConfig& config);

}  // namespace gencast
