// Channel layouts in reference order (see stacking.h).
#include "config/stacking.h"

#include "config/variables.h"
#include "core/parallel.h"

namespace gencast {
namespace {

// Channels of one variable with `frames` time entries, time outermost.
void append_variable(const std::string& name, int frames, int n_levels,
                     std::vector<ChannelSlot>& out) {
  for (int t = 0; t < frames; ++t) {
    if (has_levels(name)) {
      for (int l = 0; l < n_levels; ++l) out.push_back({name, t, l});
    } else {
      out.push_back({name, t, -1});
    }
  }
}

int level_count(const TaskConfig& task) { return static_cast<int>(task.pressure_levels.size()); }

}  // namespace

std::vector<ChannelSlot> target_channels(const TaskConfig& task) {
  std::vector<ChannelSlot> out;
  for (const auto& name : sorted_names(task.target_variables))
    append_variable(name, 1, level_count(task), out);
  return out;
}

std::vector<ChannelSlot> input_channels(const TaskConfig& task) {
  const int frames = static_cast<int>(input_frame_count(task));
  std::vector<ChannelSlot> out;
  for (const auto& name : sorted_names(task.input_variables))
    // Statics have no time dim; progress features keep their time dim (the lon
    // dim of day progress is a grid dim, broadcast over lat).
    append_variable(name, is_static_variable(name) ? 1 : frames, level_count(task), out);
  return out;
}

GridFeatureLayout grid_feature_layout(const TaskConfig& task) {
  GridFeatureLayout layout;
  auto add = [&](const ChannelSlot& slot, int kind, int target) {
    layout.slots.push_back(slot);
    layout.kind.push_back(kind);
    layout.target_index.push_back(target);
    layout.cond_index.push_back(kind == kChannelNoisyTarget ? -1 : layout.n_conditioning);
    if (kind == kChannelNoisyTarget) {
      ++layout.n_targets;
    } else {
      ++layout.n_conditioning;
    }
  };
  for (const auto& slot : input_channels(task)) add(slot, kChannelInput, -1);

  // Forcings and noisy targets form one dataset in the reference, so their
  // names are sorted together.
  std::vector<std::string> second = task.forcing_variables;
  second.insert(second.end(), task.target_variables.begin(), task.target_variables.end());
  const std::vector<ChannelSlot> targets = target_channels(task);
  for (const auto& name : sorted_names(second)) {
    if (list_contains(task.forcing_variables, name)) {
      std::vector<ChannelSlot> slots;
      append_variable(name, 1, level_count(task), slots);
      for (const auto& s : slots) add(s, kChannelForcing, -1);
      continue;
    }
    for (size_t i = 0; i < targets.size(); ++i)
      if (targets[i].variable == name) add(targets[i], kChannelNoisyTarget, static_cast<int>(i));
  }
  return layout;
}

void assemble_grid_features(const GridFeatureLayout& layout, int64_t n_grid,
                            const float* conditioning, const float* noisy_targets,
                            float noisy_scale, float* out) {
  const int64_t channels = layout.channels();
  const int64_t n_cond = layout.n_conditioning;
  const int64_t n_tgt = layout.n_targets;
  parallel_for(n_grid, [&](int64_t begin, int64_t end) {
    for (int64_t node = begin; node < end; ++node) {
      const float* cond_row = conditioning + node * n_cond;
      const float* noisy_row = noisy_targets + node * n_tgt;
      float* out_row = out + node * channels;
      for (int64_t c = 0; c < channels; ++c) {
        out_row[c] = layout.kind[c] == kChannelNoisyTarget
                         ? noisy_scale * noisy_row[layout.target_index[c]]
                         : cond_row[layout.cond_index[c]];
      }
    }
  });
}

}  // namespace gencast
