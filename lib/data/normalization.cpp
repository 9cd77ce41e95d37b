// NaN cleaning, normalization, un-normalization and frame advance (see normalization.h).
#include "data/normalization.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>

#include "core/error.h"
#include "data/forcings.h"
#include "data/variables.h"

namespace gencast {
namespace {

// Where the physical value of one conditioning column comes from, and how to
// normalize it: value(node) = data[ilat * lat_stride + ilon * lon_stride].
struct ColumnSource {
  const float* data = nullptr;
  int64_t lat_stride = 0;
  int64_t lon_stride = 0;
  float mean = 0.0f;
  float stddev = 1.0f;
  bool fill_nan = false;  // the NaN-cleaned variable: NaN -> fill
  float fill = 0.0f;
};

size_t level_slot(int level) { return level < 0 ? 0 : static_cast<size_t>(level); }

// Number of level planes a field of `name` has in an InputDataset.
int64_t field_levels(const std::string& name, const TaskConfig& task) {
  return has_levels(name) ? static_cast<int64_t>(task.pressure_levels.size()) : 1;
}

// Validates init_index against the frames and returns the first frame used.
int64_t first_frame(const InputDataset& frames, int64_t init_index, int64_t n_in) {
  const int64_t first = init_index - (n_in - 1);
  if (first < 0 || init_index >= static_cast<int64_t>(frames.times_s.size()))
    throw RuntimeFailure(frames.path + ": init frame " + std::to_string(init_index) + " needs " +
                         std::to_string(n_in) + " input frames, the dataset has " +
                         std::to_string(frames.times_s.size()));
  for (int64_t t = first + 1; t <= init_index; ++t)
    if (frames.times_s[static_cast<size_t>(t)] - frames.times_s[static_cast<size_t>(t - 1)] !=
        kModelStepSeconds)
      throw RuntimeFailure(frames.path + ": input frames are not 12 h apart");
  return first;
}

// Pointer to the [lat, lon] plane of a time-varying field at (frame, level).
const float* field_plane(const InputDataset& frames, const std::string& name, int64_t frame,
                         int level, const TaskConfig& task) {
  const ArrayF& f = frames.field(name);
  const int64_t n_levels = field_levels(name, task);
  const int64_t plane = frames.n_grid();
  const int64_t expected = static_cast<int64_t>(frames.times_s.size()) * n_levels * plane;
  if (f.numel() != expected)
    throw RuntimeFailure(frames.path + ": field " + name + " has shape " +
                         shape_to_string(f.shape) + ", not [time, (level,) lat, lon]");
  return f.ptr() + (frame * n_levels + static_cast<int64_t>(level_slot(level))) * plane;
}

}  // namespace

StepConditioning prepare_step(const InputDataset& frames, int64_t init_index,
                              int64_t target_time_s, const NormalizationStats& stats,
                              const TaskConfig& task) {
  StepConditioning cond;
  prepare_step_into(cond, frames, init_index, target_time_s, stats, task);
  return cond;
}

namespace {

// Reuses `a`'s storage when the shape is unchanged: a 0.25 deg step's arrays
// are ~1 GB, and fresh allocations cost page faults every step.
void reshape_reusing(ArrayF& a, const Shape& shape) {
  if (a.shape == shape) return;
  a = ArrayF(shape);
}

}  // namespace

void prepare_step_into(StepConditioning& cond, const InputDataset& frames, int64_t init_index,
                       int64_t target_time_s, const NormalizationStats& stats,
                       const TaskConfig& task) {
  const int64_t n_in = input_frame_count(task);
  const int64_t first = first_frame(frames, init_index, n_in);
  const GridFeatureLayout layout = grid_feature_layout(task);
  const std::vector<ChannelSlot> targets = target_channels(task);
  const int64_t n_grid = frames.n_grid();
  const int64_t n_lon = frames.n_lon();

  const bool cleans_nan = list_contains(task.input_variables, kNanFilledVariable);
  const float fill =
      cleans_nan ? stat_values(stats.min, kNanFilledVariable, "min_by_level")[0] : 0.0f;

  // Progress features are computed, not read; keep them alive while used.
  std::deque<std::vector<float>> computed;
  std::vector<ColumnSource> sources;
  std::vector<std::string> column_names;
  for (int c = 0; c < layout.channels(); ++c) {
    if (layout.kind[c] == kChannelNoisyTarget) continue;
    const ChannelSlot& slot = layout.slots[c];
    const std::string& name = slot.variable;
    ColumnSource src;
    src.mean = stat_values(stats.mean, name, "mean_by_level")[level_slot(slot.level)];
    src.stddev = stat_values(stats.stddev, name, "stddev_by_level")[level_slot(slot.level)];
    if (is_progress_forcing(name)) {
      const int64_t time = layout.kind[c] == kChannelForcing
                               ? target_time_s
                               : frames.times_s[static_cast<size_t>(first + slot.time)];
      computed.push_back(progress_feature(name, time, frames.lon));
      src.data = computed.back().data();
      src.lon_stride = is_day_progress(name) ? 1 : 0;
    } else if (is_static_variable(name)) {
      const ArrayF& f = frames.field(name);
      if (f.numel() != n_grid)
        throw RuntimeFailure(frames.path + ": static field " + name + " has shape " +
                             shape_to_string(f.shape));
      src.data = f.ptr();
      src.lat_stride = n_lon;
      src.lon_stride = 1;
    } else {
      src.data = field_plane(frames, name, first + slot.time, slot.level, task);
      src.lat_stride = n_lon;
      src.lon_stride = 1;
    }
    src.fill_nan = name == kNanFilledVariable;
    src.fill = fill;
    sources.push_back(src);
    column_names.push_back(name);
  }

  cond.n_grid = n_grid;
  const int64_t n_cond = static_cast<int64_t>(sources.size());
  reshape_reusing(cond.features, {n_grid, n_cond});
  float* feat = cond.features.ptr();
  int64_t non_finite = 0;
#pragma omp parallel for schedule(static) reduction(+ : non_finite)
  for (int64_t node = 0; node < n_grid; ++node) {
    const int64_t ilat = node / n_lon, ilon = node % n_lon;
    float* row = feat + node * n_cond;
    for (int64_t c = 0; c < n_cond; ++c) {
      const ColumnSource& s = sources[static_cast<size_t>(c)];
      float x = s.data[ilat * s.lat_stride + ilon * s.lon_stride];
      if (s.fill_nan && std::isnan(x)) x = s.fill;
      row[c] = (x - s.mean) / s.stddev;  // two float32 ops, as the reference
      non_finite += std::isfinite(row[c]) ? 0 : 1;
    }
  }
  for (int64_t i = 0; non_finite > 0 && i < n_grid * n_cond; ++i) {  // name the first one
    if (!std::isfinite(feat[i]))
      throw RuntimeFailure(frames.path + ": normalized input " +
                           column_names[static_cast<size_t>(i % n_cond)] + " is not finite at " +
                           "grid node " + std::to_string(i / n_cond) + " (time " +
                           format_iso_time(frames.times_s[static_cast<size_t>(init_index)]) + ")");
  }

  // Residual bases: the (NaN-filled) initialisation frame of each target that is an input.
  const int64_t n_tgt = static_cast<int64_t>(targets.size());
  reshape_reusing(cond.last_input, {n_grid, n_tgt});
  std::fill(cond.last_input.data.begin(), cond.last_input.data.end(), 0.0f);
  std::vector<const float*> planes(static_cast<size_t>(n_tgt), nullptr);
  std::vector<uint8_t> fill_nan(static_cast<size_t>(n_tgt), 0);
  for (int64_t t = 0; t < n_tgt; ++t) {
    const ChannelSlot& slot = targets[static_cast<size_t>(t)];
    if (!is_residual_target(task, slot.variable)) continue;
    planes[static_cast<size_t>(t)] = field_plane(frames, slot.variable, init_index, slot.level, task);
    fill_nan[static_cast<size_t>(t)] = slot.variable == kNanFilledVariable;
  }
  // Node-major so that each thread writes whole rows (the planes are read as
  // n_tgt parallel streams instead of n_tgt strided passes over the output).
  float* out = cond.last_input.ptr();
#pragma omp parallel for schedule(static)
  for (int64_t node = 0; node < n_grid; ++node) {
    for (int64_t t = 0; t < n_tgt; ++t) {
      const float* plane = planes[static_cast<size_t>(t)];
      if (!plane) continue;
      float x = plane[node];
      if (fill_nan[static_cast<size_t>(t)] && std::isnan(x)) x = fill;
      out[node * n_tgt + t] = x;
    }
  }

  cond.sst_nan_mask.clear();
  if (cleans_nan && list_contains(task.target_variables, kNanFilledVariable)) {
    cond.sst_nan_mask.assign(static_cast<size_t>(n_grid), 0);
    for (int64_t f = first; f <= init_index; ++f) {
      const float* plane = field_plane(frames, kNanFilledVariable, f, -1, task);
      for (int64_t node = 0; node < n_grid; ++node)
        if (std::isnan(plane[node])) cond.sst_nan_mask[static_cast<size_t>(node)] = 1;
    }
  }
}

void targets_to_physical(const float* normalized, const StepConditioning& cond,
                         const NormalizationStats& stats, const TaskConfig& task,
                         float* physical) {
  const std::vector<ChannelSlot> targets = target_channels(task);
  const int64_t n_tgt = static_cast<int64_t>(targets.size());
  if (cond.last_input.numel() != cond.n_grid * n_tgt)
    throw RuntimeFailure("targets_to_physical: conditioning has " +
                         shape_to_string(cond.last_input.shape) + " residual bases, expected (" +
                         std::to_string(cond.n_grid) + ", " + std::to_string(n_tgt) + ")");
  std::vector<float> scale(static_cast<size_t>(n_tgt)), offset(static_cast<size_t>(n_tgt));
  std::vector<uint8_t> residual(static_cast<size_t>(n_tgt)), restore_nan(static_cast<size_t>(n_tgt));
  for (size_t t = 0; t < targets.size(); ++t) {
    const std::string& name = targets[t].variable;
    const size_t l = level_slot(targets[t].level);
    residual[t] = is_residual_target(task, name);
    if (residual[t]) {
      scale[t] = stat_values(stats.diffs_stddev, name, "diffs_stddev_by_level")[l];
    } else {
      scale[t] = stat_values(stats.stddev, name, "stddev_by_level")[l];
      offset[t] = stat_values(stats.mean, name, "mean_by_level")[l];
    }
    restore_nan[t] = name == kNanFilledVariable && !cond.sst_nan_mask.empty();
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float* last = cond.last_input.ptr();
#pragma omp parallel for schedule(static)
  for (int64_t node = 0; node < cond.n_grid; ++node) {
    for (int64_t t = 0; t < n_tgt; ++t) {
      const int64_t i = node * n_tgt + t;
      const float scaled = normalized[i] * scale[static_cast<size_t>(t)];
      float value = residual[static_cast<size_t>(t)] ? scaled + last[i]
                                                     : scaled + offset[static_cast<size_t>(t)];
      if (restore_nan[static_cast<size_t>(t)] && cond.sst_nan_mask[static_cast<size_t>(node)])
        value = nan;
      physical[i] = value;
    }
  }
}

namespace {

// The target channel that rolls input `name` at `level` forward: every
// time-varying input must also be a target.
int64_t rolled_channel(const std::vector<ChannelSlot>& targets, const std::string& name, int level) {
  for (size_t t = 0; t < targets.size(); ++t)
    if (targets[t].variable == name && targets[t].level == level) return static_cast<int64_t>(t);
  fail_input("", "task_config:input_variables",
             "inputs that are also targets (needed to roll forward)",
             "\"" + name + "\" is an input but not a target");
}

// The prediction [n_grid, n_tgt] becomes the newest frame: one node-major pass
// (rows read in order, the target planes written as parallel streams).
void scatter_prediction(const std::vector<float*>& planes, const float* prediction, int64_t n_grid) {
  const auto n_tgt = static_cast<int64_t>(planes.size());
#pragma omp parallel for schedule(static)
  for (int64_t node = 0; node < n_grid; ++node)
    for (int64_t t = 0; t < n_tgt; ++t)
      if (float* dst = planes[static_cast<size_t>(t)]) dst[node] = prediction[node * n_tgt + t];
}

}  // namespace

void advance_frames_in_place(InputDataset& frames, const float* prediction_physical,
                             int64_t new_time_s, const TaskConfig& task) {
  const int64_t n_in = input_frame_count(task);
  const auto n_frames = static_cast<int64_t>(frames.times_s.size());
  if (n_frames != n_in) {  // more frames than needed: build a fresh dataset
    frames = advance_frames(frames, n_frames - 1, prediction_physical, new_time_s, task);
    return;
  }
  if (new_time_s != frames.times_s.back() + kModelStepSeconds)
    throw RuntimeFailure("advance_frames: the new frame (" + format_iso_time(new_time_s) +
                         ") must be 12 h after the init frame (" +
                         format_iso_time(frames.times_s.back()) + ")");
  const std::vector<ChannelSlot> targets = target_channels(task);
  const auto n_tgt = static_cast<int64_t>(targets.size());
  const int64_t n_grid = frames.n_grid();
  std::vector<float*> planes(static_cast<size_t>(n_tgt), nullptr);
  for (const auto& name : task.input_variables) {
    if (is_progress_forcing(name) || is_static_variable(name)) continue;
    const int64_t n_levels = field_levels(name, task);
    ArrayF& field = frames.fields.at(name);
    // Drop the oldest frame: frames 1.. move down by one (one memmove).
    std::copy(field.ptr() + n_levels * n_grid, field.ptr() + n_in * n_levels * n_grid, field.ptr());
    for (int64_t l = 0; l < n_levels; ++l) {
      const int level = has_levels(name) ? static_cast<int>(l) : -1;
      const int64_t channel = rolled_channel(targets, name, level);
      planes[static_cast<size_t>(channel)] = field.ptr() + ((n_in - 1) * n_levels + l) * n_grid;
    }
  }
  scatter_prediction(planes, prediction_physical, n_grid);
  frames.times_s.erase(frames.times_s.begin());
  frames.times_s.push_back(new_time_s);
}

InputDataset advance_frames(const InputDataset& frames, int64_t init_index,
                            const float* prediction_physical, int64_t new_time_s,
                            const TaskConfig& task) {
  const int64_t n_in = input_frame_count(task);
  const int64_t first = first_frame(frames, init_index, n_in);
  const int64_t init_s = frames.times_s[static_cast<size_t>(init_index)];
  if (new_time_s != init_s + kModelStepSeconds)
    throw RuntimeFailure("advance_frames: the new frame (" + format_iso_time(new_time_s) +
                         ") must be 12 h after the init frame (" + format_iso_time(init_s) + ")");
  const std::vector<ChannelSlot> targets = target_channels(task);
  const int64_t n_tgt = static_cast<int64_t>(targets.size());
  const int64_t n_grid = frames.n_grid();

  InputDataset next;
  next.path = frames.path;
  next.lat = frames.lat;
  next.lon = frames.lon;
  next.levels = frames.levels;
  for (int64_t f = first + 1; f <= init_index; ++f)
    next.times_s.push_back(frames.times_s[static_cast<size_t>(f)]);
  next.times_s.push_back(new_time_s);

  // newest[t]: (variable, plane index) that target channel t fills, if any.
  std::vector<std::pair<std::string, int64_t>> newest(static_cast<size_t>(n_tgt));
  for (const auto& name : task.input_variables) {
    if (is_progress_forcing(name)) continue;
    if (is_static_variable(name)) {
      next.fields[name] = frames.field(name);
      continue;
    }
    const int64_t n_levels = field_levels(name, task);
    Shape shape{n_in};
    if (has_levels(name)) shape.push_back(n_levels);
    shape.push_back(frames.n_lat());
    shape.push_back(frames.n_lon());
    ArrayF field(shape);
    // Kept frames, then the prediction as the newest frame.
    for (int64_t f = 0; f + 1 < n_in; ++f)
      for (int64_t l = 0; l < n_levels; ++l) {
        const float* src = field_plane(frames, name, first + 1 + f, static_cast<int>(l), task);
        std::copy(src, src + n_grid, field.ptr() + (f * n_levels + l) * n_grid);
      }
    for (int64_t l = 0; l < n_levels; ++l) {
      const int level = has_levels(name) ? static_cast<int>(l) : -1;
      const int64_t channel = rolled_channel(targets, name, level);
      newest[static_cast<size_t>(channel)] = {name, (n_in - 1) * n_levels + l};
    }
    next.fields[name] = std::move(field);
  }
  // The prediction becomes the newest frame: one node-major pass over it
  // (reading [n_grid, n_tgt] row by row, writing n_tgt planes as streams).
  std::vector<float*> planes(static_cast<size_t>(n_tgt), nullptr);
  for (int64_t t = 0; t < n_tgt; ++t) {
    const auto& [name, plane] = newest[static_cast<size_t>(t)];
    if (!name.empty()) planes[static_cast<size_t>(t)] = next.fields[name].ptr() + plane * n_grid;
  }
  scatter_prediction(planes, prediction_physical, n_grid);
  return next;
}

}  // namespace gencast
