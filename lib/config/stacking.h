// Channel stacking: which physical quantity each model channel holds, in the
// reference order (model_utils.dataset_to_stacked). Loading real weights
// depends on this order being exact.
//
// Rules (reference facts):
//  * variables are stacked in sorted name order (Python sort = byte order);
//  * within a variable, the dims other than (batch, lat, lon) are flattened in
//    the variable's own order: time outermost, then level;
//  * the grid-node features of one denoiser call are the stacked inputs
//    (all input frames) followed by the forcings (at the target time) and the
//    noisy targets, sorted TOGETHER by name;
//  * outputs/targets are stacked in sorted target-name order.
// Grid nodes are lat-major everywhere: node = ilat * n_lon + ilon.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace gencast {

// One channel: a variable at an input frame (time index into the input
// frames, 0 = oldest; 0 for forcings and targets) and a level (index into
// TaskConfig::pressure_levels, -1 for surface/static/forcing variables).
struct ChannelSlot {
  std::string variable;
  int time = 0;
  int level = -1;
  bool operator==(const ChannelSlot&) const = default;
};

enum ChannelKind : int { kChannelInput = 0, kChannelForcing = 1, kChannelNoisyTarget = 2 };

// The stacked grid-node channels of one denoiser call (264 for GenCast), in
// reference order, before the model appends its structural node features.
struct GridFeatureLayout {
  std::vector<ChannelSlot> slots;
  std::vector<int> kind;          // ChannelKind per slot
  std::vector<int> target_index;  // kind 2: index into target_channels(), else -1
  std::vector<int> cond_index;    // kinds 0/1: column in StepConditioning::features, else -1
  int n_conditioning = 0;         // number of kind 0/1 slots (180 for GenCast)
  int n_targets = 0;              // number of kind 2 slots (84)

  int channels() const { return static_cast<int>(slots.size()); }
};

// The target/output channels in order (84 for GenCast).
std::vector<ChannelSlot> target_channels(const TaskConfig& task);
// The stacked input channels, all frames (176 for GenCast).
std::vector<ChannelSlot> input_channels(const TaskConfig& task);
GridFeatureLayout grid_feature_layout(const TaskConfig& task);

// Interleaves conditioning features [n_grid, n_conditioning] and noisy
// targets [n_grid, n_targets] (multiplied by noisy_scale, the EDM c_in) into
// the layout's order: out [n_grid, layout.channels()].
void assemble_grid_features(const GridFeatureLayout& layout, int64_t n_grid,
                            const float* conditioning, const float* noisy_targets,
                            float noisy_scale, float* out);

}  // namespace gencast
