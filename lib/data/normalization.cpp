// NaN cleaning, normalization, un-normalization and frame advance (see normalization.h).
#include "data/normalization.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>

#include "config/variables.h"
#include "core/error.h"
#include "core/parallel.h"
#include "data/forcings.h"

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

// Nodes per tile of the column-by-column passes: a tile's output rows
// (256 x ~183 floats = 190 KB) stay in L2 while every column is written, and
// each source plane is read as one contiguous run of the tile's length.
constexpr int64_t kTileNodes = 256;

// Calls fn(t0, t1, ilat, ilon0) over tiles of nodes [begin, end) that never
// cross a latitude row, so that every source column is contiguous (or
// constant) along a tile: node = ilat * n_lon + ilon0 + k.
template <class F>
void for_each_tile(int64_t begin, int64_t end, int64_t n_lon, F&& fn) {
  for (int64_t t0 = begin; t0 < end;) {
    const int64_t ilat = t0 / n_lon, ilon0 = t0 % n_lon;
    const int64_t t1 = std::min({end, t0 + kTileNodes, (ilat + 1) * n_lon});
    fn(t0, t1, ilat, ilon0);
    t0 = t1;
  }
}

// 1 if v is NaN or infinite (one compare, so that loops using it vectorize).
inline int64_t not_finite(float v) {
  return std::fabs(v) <= std::numeric_limits<float>::max() ? 0 : 1;
}

// Normalizes one column of one tile into rows of `width` floats; returns how
// many results are not finite. Two float32 ops per value, as the reference.
// (Single-core speed is bound by memory latency here, not by the division:
// computing into a contiguous run first, or transposing through a scratch
// tile, measured no faster.)
int64_t normalize_column(const ColumnSource& s, int64_t ilat, int64_t ilon0, int64_t len,
                         float* dst, int64_t width) {
  const float* src = s.data + ilat * s.lat_stride + ilon0 * s.lon_stride;
  if (s.lon_stride == 0) {  // constant along a latitude row (year progress)
    float x = src[0];
    if (s.fill_nan && std::isnan(x)) x = s.fill;
    const float v = (x - s.mean) / s.stddev;
    for (int64_t k = 0; k < len; ++k) dst[k * width] = v;
    return not_finite(v) * len;
  }
  const float mean = s.mean, stddev = s.stddev, fill = s.fill;
  int64_t bad = 0;
  for (int64_t k = 0; k < len; ++k) {
    const float x = s.fill_nan && std::isnan(src[k]) ? fill : src[k];
    const float v = (x - mean) / stddev;
    dst[k * width] = v;
    bad += not_finite(v);
  }
  return bad;
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
  const int64_t width = n_cond;
  reshape_reusing(cond.features, {n_grid, width});
  float* feat = cond.features.ptr();
  // Column by column within each tile: the sources are read as contiguous
  // runs and the tile's rows are filled in cache (see kTileNodes).
  const int64_t non_finite = parallel_count(n_grid, [&](int64_t begin, int64_t end) {
    int64_t bad = 0;
    for_each_tile(begin, end, n_lon, [&](int64_t t0, int64_t t1, int64_t ilat, int64_t ilon0) {
      float* rows = feat + t0 * width;
      for (int64_t c = 0; c < n_cond; ++c)
        bad += normalize_column(sources[static_cast<size_t>(c)], ilat, ilon0, t1 - t0, rows + c,
                                width);
    });
    return bad;
  });
  for (int64_t node = 0; non_finite > 0 && node < n_grid; ++node) {  // name the first one
    for (int64_t c = 0; c < n_cond; ++c)
      if (!std::isfinite(feat[node * width + c]))
        throw RuntimeFailure(frames.path + ": normalized input " +
                             column_names[static_cast<size_t>(c)] + " is not finite at " +
                             "grid node " + std::to_string(node) + " (time " +
                             format_iso_time(frames.times_s[static_cast<size_t>(init_index)]) +
                             ")");
  }

  // Residual bases: the (NaN-filled) initialisation frame of each target that
  // is an input, 0 for the others (every element written: no clearing pass).
  const int64_t n_tgt = static_cast<int64_t>(targets.size());
  reshape_reusing(cond.last_input, {n_grid, n_tgt});
  std::vector<const float*> planes(static_cast<size_t>(n_tgt), nullptr);
  std::vector<uint8_t> fill_nan(static_cast<size_t>(n_tgt), 0);
  for (int64_t t = 0; t < n_tgt; ++t) {
    const ChannelSlot& slot = targets[static_cast<size_t>(t)];
    if (!is_residual_target(task, slot.variable)) continue;
    planes[static_cast<size_t>(t)] = field_plane(frames, slot.variable, init_index, slot.level, task);
    fill_nan[static_cast<size_t>(t)] = slot.variable == kNanFilledVariable;
  }
  float* out = cond.last_input.ptr();
  parallel_for(n_grid, [&](int64_t begin, int64_t end) {
    for_each_tile(begin, end, n_lon, [&](int64_t t0, int64_t t1, int64_t, int64_t) {
      const int64_t len = t1 - t0;
      for (int64_t t = 0; t < n_tgt; ++t) {
        float* dst = out + t0 * n_tgt + t;
        const float* plane = planes[static_cast<size_t>(t)];
        if (!plane) {
          for (int64_t k = 0; k < len; ++k) dst[k * n_tgt] = 0.0f;
        } else if (fill_nan[static_cast<size_t>(t)]) {
          for (int64_t k = 0; k < len; ++k)
            dst[k * n_tgt] = std::isnan(plane[t0 + k]) ? fill : plane[t0 + k];
        } else {
          for (int64_t k = 0; k < len; ++k) dst[k * n_tgt] = plane[t0 + k];
        }
      }
    });
  });

  cond.sst_nan_mask.clear();
  if (cleans_nan && list_contains(task.target_variables, kNanFilledVariable)) {
    cond.sst_nan_mask.resize(static_cast<size_t>(n_grid));
    std::vector<const float*> sst;
    for (int64_t f = first; f <= init_index; ++f)
      sst.push_back(field_plane(frames, kNanFilledVariable, f, -1, task));
    uint8_t* mask = cond.sst_nan_mask.data();
    parallel_for(n_grid, [&](int64_t begin, int64_t end) {
      for (int64_t node = begin; node < end; ++node) {
        bool any = false;
        for (const float* plane : sst) any = any || std::isnan(plane[node]);
        mask[node] = any ? 1 : 0;
      }
    });
  }
}

int64_t targets_to_physical(const float* normalized, const StepConditioning& cond,
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
  const uint8_t* land = cond.sst_nan_mask.empty() ? nullptr : cond.sst_nan_mask.data();
  return parallel_count(cond.n_grid, [&](int64_t begin, int64_t end) {
    int64_t bad = 0;
    for (int64_t node = begin; node < end; ++node) {
      const bool nan_here = land && land[node];
      for (int64_t t = 0; t < n_tgt; ++t) {
        const int64_t i = node * n_tgt + t;
        const auto ts = static_cast<size_t>(t);
        const float scaled = normalized[i] * scale[ts];
        float value = residual[ts] ? scaled + last[i] : scaled + offset[ts];
        if (nan_here && restore_nan[ts]) {
          value = nan;  // by design: SST over land
        } else {
          bad += std::isfinite(value) ? 0 : 1;
        }
        physical[i] = value;
      }
    }
    return bad;
  });
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
void scatter_rows(const std::vector<float*>& planes, const float* prediction, int64_t begin,
                  int64_t end) {
  const auto n_tgt = static_cast<int64_t>(planes.size());
  for (int64_t node = begin; node < end; ++node)
    for (int64_t t = 0; t < n_tgt; ++t)
      if (float* dst = planes[static_cast<size_t>(t)]) dst[node] = prediction[node * n_tgt + t];
}

void scatter_prediction(const std::vector<float*>& planes, const float* prediction, int64_t n_grid) {
  parallel_for(n_grid, [&](int64_t begin, int64_t end) {
    scatter_rows(planes, prediction, begin, end);
  });
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
  // Plane 0 of frame 0 of every rolled field; frame f's planes follow at
  // f * n_levels * n_grid.
  std::vector<std::pair<float*, int64_t>> fields;  // (data, n_levels)
  for (const auto& name : task.input_variables) {
    if (is_progress_forcing(name) || is_static_variable(name)) continue;
    const int64_t n_levels = field_levels(name, task);
    ArrayF& field = frames.fields.at(name);
    if (field.numel() != n_in * n_levels * n_grid)
      throw RuntimeFailure(frames.path + ": field " + name + " has shape " +
                           shape_to_string(field.shape) + ", not [time, (level,) lat, lon]");
    fields.emplace_back(field.ptr(), n_levels);
    for (int64_t l = 0; l < n_levels; ++l) {
      const int level = has_levels(name) ? static_cast<int>(l) : -1;
      const int64_t channel = rolled_channel(targets, name, level);
      planes[static_cast<size_t>(channel)] = field.ptr() + ((n_in - 1) * n_levels + l) * n_grid;
    }
  }
  // One pass, split by grid node: each worker moves its nodes of every plane
  // down one frame (oldest first, so a frame is read before it is
  // overwritten), then writes its nodes of the prediction as the newest frame.
  parallel_for(n_grid, [&](int64_t begin, int64_t end) {
    for (const auto& [data, n_levels] : fields)
      for (int64_t f = 0; f + 1 < n_in; ++f)
        for (int64_t l = 0; l < n_levels; ++l) {
          const float* src = data + ((f + 1) * n_levels + l) * n_grid;
          float* dst = data + (f * n_levels + l) * n_grid;
          std::copy(src + begin, src + end, dst + begin);
        }
    scatter_rows(planes, prediction_physical, begin, end);
  });
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
