// Column maps of the step transition (see step_transition_plan.h).
#include "data/step_transition_plan.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>

#include "config/stacking.h"
#include "config/variables.h"
#include "core/error.h"
#include "core/parallel.h"
#include "data/forcings.h"
#include "io/netcdf_util.h"

namespace gencast {
namespace {

size_t level_slot(int level) { return level < 0 ? 0 : static_cast<size_t>(level); }

float stat(const std::map<std::string, std::vector<float>>& s, const std::string& name,
           const char* which, int level) {
  return stat_values(s, name, which)[level_slot(level)];
}

// The target channel that rolls input `name` at `level` forward.
int32_t rolled_target(const std::vector<ChannelSlot>& targets, const std::string& name, int level) {
  for (size_t t = 0; t < targets.size(); ++t)
    if (targets[t].variable == name && targets[t].level == level) return static_cast<int32_t>(t);
  fail_input("", "task_config:input_variables",
             "inputs that are also targets (needed to roll forward)",
             "\"" + name + "\" is an input but not a target");
}

}  // namespace

StepTransition plan_step_transition(const TaskConfig& task, const NormalizationStats& stats,
                                    int64_t n_lon) {
  StepTransition plan;
  StepTransitionTables& t = plan.tables;
  const int n_in = static_cast<int>(input_frame_count(task));
  const GridFeatureLayout layout = grid_feature_layout(task);
  const std::vector<ChannelSlot> targets = target_channels(task);
  t.n_lon = n_lon;
  t.frames = n_in;
  const bool cleans_nan = list_contains(task.input_variables, kNanFilledVariable);
  const bool has_mask = cleans_nan && list_contains(task.target_variables, kNanFilledVariable);
  if (cleans_nan) t.fill = stat(stats.min, kNanFilledVariable, "min_by_level", -1);

  // Targets: targets_to_physical's scale/offset, prepare_step_into's bases.
  for (size_t c = 0; c < targets.size(); ++c) {
    const std::string& name = targets[c].variable;
    const int level = targets[c].level;
    uint8_t flags = 0;
    const bool residual = is_residual_target(task, name);
    if (residual) {
      flags |= kStepResidual;
      if (name == kNanFilledVariable) flags |= kStepFillBase;
      t.scale.push_back(stat(stats.diffs_stddev, name, "diffs_stddev_by_level", level));
      t.offset.push_back(0.f);
    } else {
      t.scale.push_back(stat(stats.stddev, name, "stddev_by_level", level));
      t.offset.push_back(stat(stats.mean, name, "mean_by_level", level));
    }
    if (has_mask && name == kNanFilledVariable) {
      flags |= kStepRestoreNan;
      t.land_target = static_cast<int>(c);
    }
    t.target_flags.push_back(flags);
  }

  // Conditioning columns, in StepConditioning::features order.
  std::map<std::tuple<std::string, int, int>, int32_t> input_column;  // (name, time, level)
  for (int s = 0; s < layout.channels(); ++s)
    if (layout.kind[static_cast<size_t>(s)] == kChannelInput) {
      const ChannelSlot& slot = layout.slots[static_cast<size_t>(s)];
      input_column[{slot.variable, slot.time, slot.level}] = layout.cond_index[static_cast<size_t>(s)];
    }
  const auto K = static_cast<size_t>(layout.n_conditioning);
  t.column_kind.assign(K, kColumnKeep);
  t.column_index.assign(K, 0);
  t.mean.assign(K, 0.f);
  t.stddev.assign(K, 1.f);
  t.column_fill_nan.assign(K, 0);
  for (int s = 0; s < layout.channels(); ++s) {
    const auto si = static_cast<size_t>(s);
    if (layout.kind[si] == kChannelNoisyTarget) continue;
    const ChannelSlot& slot = layout.slots[si];
    const std::string& name = slot.variable;
    const auto c = static_cast<size_t>(layout.cond_index[si]);
    const bool forcing = layout.kind[si] == kChannelForcing;
    const float mean = stat(stats.mean, name, "mean_by_level", slot.level);
    const float stddev = stat(stats.stddev, name, "stddev_by_level", slot.level);
    if (forcing && !is_progress_forcing(name))
      throw std::logic_error("step transition: forcing \"" + name +
                             "\" is not a progress feature (check_task_supported rejects it)");
    if (!forcing && is_static_variable(name)) continue;  // kColumnKeep
    if (!forcing && slot.time + 1 < n_in) {
      t.column_kind[c] = kColumnShift;
      t.column_index[c] = input_column.at({name, slot.time + 1, slot.level});
    } else if (is_progress_forcing(name)) {
      t.column_kind[c] = kColumnForcing;
      t.column_index[c] = static_cast<int32_t>(plan.forcing_rows.size());
      plan.forcing_rows.push_back({name, forcing, mean, stddev});
    } else {
      t.column_kind[c] = kColumnNewest;
      t.column_index[c] = rolled_target(targets, name, slot.level);
      t.mean[c] = mean;
      t.stddev[c] = stddev;
      t.column_fill_nan[c] = name == kNanFilledVariable;
    }
  }
  t.forcing_rows = static_cast<int64_t>(plan.forcing_rows.size());
  return plan;
}

void step_forcings(const StepTransition& plan, int64_t target_time_s,
                   const std::vector<float>& lon, float* out) {
  const auto n_lon = static_cast<int64_t>(lon.size());
  if (n_lon != plan.tables.n_lon)
    throw std::invalid_argument("step_forcings: the plan is for another grid");
  for (size_t j = 0; j < plan.forcing_rows.size(); ++j) {
    const StepTransition::ForcingRow& row = plan.forcing_rows[j];
    const int64_t time = row.at_target ? target_time_s : target_time_s - kModelStepSeconds;
    const std::vector<float> values = progress_feature(row.name, time, lon);
    float* dst = out + static_cast<int64_t>(j) * n_lon;
    for (int64_t i = 0; i < n_lon; ++i) {
      // normalize_column's two float32 operations; year features are one value.
      const float x = values[values.size() == 1 ? 0 : static_cast<size_t>(i)];
      dst[i] = (x - row.mean) / row.stddev;
      if (!std::isfinite(dst[i]))
        throw RuntimeFailure("normalized forcing " + row.name + " is not finite at longitude " +
                             std::to_string(i) + " (time " + format_iso_time(time) + ")");
    }
  }
}

void step_land_bits(const StepTransition& plan, const InputDataset& frames, int64_t init_index,
                    float* out) {
  const int64_t n_grid = frames.n_grid();
  const int n_in = plan.tables.frames;
  if (plan.tables.land_target < 0) {
    std::fill(out, out + n_grid, 0.f);
    return;
  }
  const int64_t first = init_index - (n_in - 1);
  const ArrayF& sst = frames.field(kNanFilledVariable);
  if (first < 0 || sst.numel() != static_cast<int64_t>(frames.times_s.size()) * n_grid ||
      init_index >= static_cast<int64_t>(frames.times_s.size()))
    throw RuntimeFailure(frames.path + ": " + kNanFilledVariable + " has shape " +
                         shape_to_string(sst.shape) + ", not the " + std::to_string(n_in) +
                         " input frames up to frame " + std::to_string(init_index));
  const float* base = sst.ptr() + first * n_grid;
  parallel_for(n_grid, [&](int64_t begin, int64_t end) {
    for (int64_t node = begin; node < end; ++node) {
      uint32_t bits = 0;
      for (int f = 0; f < n_in; ++f)
        if (std::isnan(base[f * n_grid + node])) bits |= 1u << f;
      out[node] = static_cast<float>(bits);
    }
  });
}

int64_t count_non_finite(const StepTransitionTables& tables, const float* physical,
                         const float* land, int64_t n_grid) {
  const int64_t T = tables.n_targets();
  return parallel_count(n_grid, [&](int64_t begin, int64_t end) {
    int64_t bad = 0;
    for (int64_t node = begin; node < end; ++node) {
      const bool on_land = land && land[node] != 0.f;
      for (int64_t t = 0; t < T; ++t) {
        if (std::isfinite(physical[node * T + t])) continue;
        bad += on_land && (tables.target_flags[static_cast<size_t>(t)] & kStepRestoreNan) ? 0 : 1;
      }
    }
    return bad;
  });
}

}  // namespace gencast
