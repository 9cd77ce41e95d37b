// Normalization, NaN cleaning, forcings and channel stacking against the
// reference fixtures: denoise_case.nc was produced by the official JAX code
// from source_tiny.nc frames 0,1 (inputs) and frame 2 (target time) with the
// tiny *_by_level.nc statistics; rollout_case_churn0.nc step 2 starts from
// frame 1 plus the step-1 prediction.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>

#include "data/normalization.h"
#include "data/stacking.h"
#include "data/variables.h"
#include "io/netcdf_input.h"
#include "io/netcdf_util.h"
#include "io/stats.h"
#include "test_input_files.h"

using namespace gencast;
using gencast::testing::tiny_fixture;

namespace {

// The reference ops here are float32 elementwise (subtract, divide, multiply,
// add), which we perform in the same order: only the float32 sin/cos of the
// progress features may differ by an ulp. 1e-6 relative L2 leaves room for
// that and nothing else (a wrong channel or statistic is off by O(1)).
constexpr double kTol = 1e-6;

struct RefVar {
  NcVarInfo info;
  std::vector<float> data;
};

RefVar ref_var(int group, const std::string& name) {
  auto info = nc_find_var(group, name);
  if (!info) throw std::runtime_error("fixture lacks " + name);
  return {*info, nc_read_all_f32(*info)};
}

int group_of(const NcFile& file, const std::string& name) {
  auto g = nc_find_group(file.id(), name);
  if (!g) throw std::runtime_error("fixture lacks group " + name);
  return *g;
}

// Value of a reference variable at (time, level, lat, lon), whatever subset
// of (batch, time, level, lat, lon) its dims are (missing dims broadcast).
float ref_at(const RefVar& v, int64_t t, int64_t l, int64_t ilat, int64_t ilon) {
  size_t index = 0;
  for (size_t d = 0; d < v.info.dims.size(); ++d) {
    const std::string& dim = v.info.dims[d];
    int64_t i = 0;
    if (dim == "time") i = t;
    else if (dim == "level") i = l;
    else if (dim == "lat") i = ilat;
    else if (dim == "lon") i = ilon;
    index = index * v.info.sizes[d] + static_cast<size_t>(i);
  }
  return v.data[index];
}

// A group's target variables stacked into [n_grid, n_targets] (time index `t`).
std::vector<float> stack_targets(int group, const TaskConfig& task, int64_t n_lat, int64_t n_lon,
                                 int64_t t = 0) {
  const auto channels = target_channels(task);
  const int64_t n_grid = n_lat * n_lon, n_tgt = static_cast<int64_t>(channels.size());
  std::vector<float> out(static_cast<size_t>(n_grid * n_tgt));
  std::map<std::string, RefVar> vars;
  for (int64_t c = 0; c < n_tgt; ++c) {
    const ChannelSlot& slot = channels[static_cast<size_t>(c)];
    if (!vars.count(slot.variable)) vars.emplace(slot.variable, ref_var(group, slot.variable));
    const RefVar& v = vars.at(slot.variable);
    for (int64_t node = 0; node < n_grid; ++node)
      out[static_cast<size_t>(node * n_tgt + c)] =
          ref_at(v, t, std::max(slot.level, 0), node / n_lon, node % n_lon);
  }
  return out;
}

struct ErrorAcc {
  double num = 0, den = 0;
  size_t n = 0, non_finite = 0;
  void add(double got, double want) {
    if (!std::isfinite(got) || !std::isfinite(want)) {
      ++non_finite;
      return;
    }
    num += (got - want) * (got - want);
    den += want * want;
    ++n;
  }
  // Relative L2, measured against at least unit-scale data so that an
  // all-zero reference channel is judged by absolute error instead.
  double rel() const { return std::sqrt(num / std::max(den, static_cast<double>(n))); }
};

struct Case {
  TaskConfig task = default_gencast_task();
  InputDataset frames;
  NormalizationStats stats;
  StepConditioning cond;
  GridFeatureLayout layout;
  int64_t target_time = 0;
};

Case prepare_denoise_case() {
  Case c;
  c.frames = read_input_dataset(tiny_fixture("source_tiny.nc"), c.task, "2019-03-29T12:00");
  c.stats = read_stats(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny", c.task);
  c.target_time = c.frames.times_s[1] + kModelStepSeconds;
  c.cond = prepare_step(c.frames, 1, c.target_time, c.stats, c.task);
  c.layout = grid_feature_layout(c.task);
  return c;
}

}  // namespace

TEST_CASE("prepare_step reproduces norm_inputs and norm_forcings", "[data][normalization]") {
  const Case c = prepare_denoise_case();
  NcFile file = NcFile::open_read(tiny_fixture("denoise_case.nc"));
  const int inputs_group = group_of(file, "norm_inputs");
  const int forcings_group = group_of(file, "norm_forcings");
  const int64_t n_grid = c.frames.n_grid(), n_lon = c.frames.n_lon();
  REQUIRE(c.cond.features.shape == Shape{n_grid, c.layout.n_conditioning});

  std::map<std::string, ErrorAcc> errors;  // "group/variable"
  std::map<std::string, RefVar> cache;
  for (int ch = 0; ch < c.layout.channels(); ++ch) {
    if (c.layout.kind[ch] == kChannelNoisyTarget) continue;
    const ChannelSlot& slot = c.layout.slots[ch];
    const bool forcing = c.layout.kind[ch] == kChannelForcing;
    const std::string key = (forcing ? "norm_forcings/" : "norm_inputs/") + slot.variable;
    if (!cache.count(key))
      cache.emplace(key, ref_var(forcing ? forcings_group : inputs_group, slot.variable));
    const RefVar& ref = cache.at(key);
    const int col = c.layout.cond_index[ch];
    for (int64_t node = 0; node < n_grid; ++node)
      errors[key].add(c.cond.features.data[static_cast<size_t>(node * c.layout.n_conditioning + col)],
                      ref_at(ref, slot.time, std::max(slot.level, 0), node / n_lon, node % n_lon));
  }
  // Every input variable and every forcing was compared.
  CHECK(errors.size() == c.task.input_variables.size() + c.task.forcing_variables.size());
  for (const auto& [key, e] : errors) {
    INFO(key << " rel L2 " << e.rel());
    CHECK(e.non_finite == 0);
    CHECK(e.rel() <= kTol);
  }
}

TEST_CASE("assembled grid features match intermediates/grid_node_features_sub",
          "[data][normalization][stacking]") {
  const Case c = prepare_denoise_case();
  NcFile file = NcFile::open_read(tiny_fixture("denoise_case.nc"));
  const int inter = group_of(file, "intermediates");
  const RefVar ref = ref_var(inter, "grid_node_features_sub");  // [node_sub, batch, channel]
  const RefVar sub = ref_var(inter, "grid_node_sub");
  REQUIRE(ref.info.sizes[2] == static_cast<size_t>(c.layout.channels()));

  const int64_t n_grid = c.frames.n_grid();
  const std::vector<float> noisy =
      stack_targets(group_of(file, "noisy_targets"), c.task, c.frames.n_lat(), c.frames.n_lon());
  // c_in = 1/sqrt(sigma^2 + 1) in float32, as the reference scales the noisy targets.
  const float sigma = nc_read_all_f32(*nc_find_var(file.id(), "sigma"))[0];
  const float c_in = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  std::vector<float> features(static_cast<size_t>(n_grid * c.layout.channels()));
  assemble_grid_features(c.layout, n_grid, c.cond.features.ptr(), noisy.data(), c_in,
                         features.data());

  const size_t n_sub = sub.data.size();
  const size_t n_ch = ref.info.sizes[2];
  for (size_t ch = 0; ch < n_ch; ++ch) {
    ErrorAcc e;
    for (size_t s = 0; s < n_sub; ++s) {
      const auto node = static_cast<size_t>(sub.data[s]);
      e.add(features[node * n_ch + ch], ref.data[s * n_ch + ch]);
    }
    const ChannelSlot& slot = c.layout.slots[ch];
    INFO("channel " << ch << " = " << slot.variable << " t" << slot.time << " l" << slot.level
                    << " rel L2 " << e.rel());
    CHECK(e.non_finite == 0);
    CHECK(e.rel() <= kTol);
  }
}

TEST_CASE("targets_to_physical reproduces postprocessed, SST NaNs included",
          "[data][normalization]") {
  const Case c = prepare_denoise_case();
  NcFile file = NcFile::open_read(tiny_fixture("denoise_case.nc"));
  const int64_t n_lat = c.frames.n_lat(), n_lon = c.frames.n_lon();
  const std::vector<float> denoised = stack_targets(group_of(file, "denoised"), c.task, n_lat, n_lon);
  const std::vector<float> want =
      stack_targets(group_of(file, "postprocessed"), c.task, n_lat, n_lon);
  std::vector<float> got(denoised.size());
  targets_to_physical(denoised.data(), c.cond, c.stats, c.task, got.data());

  const auto channels = target_channels(c.task);
  const size_t n_tgt = channels.size();
  std::map<std::string, ErrorAcc> errors;
  size_t nan_mismatch = 0, nan_count = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string& var = channels[i % n_tgt].variable;
    if (std::isnan(want[i]) || std::isnan(got[i])) {
      nan_mismatch += std::isnan(want[i]) != std::isnan(got[i]) ? 1 : 0;
      nan_count += std::isnan(want[i]) ? 1 : 0;
      continue;
    }
    errors[var].add(got[i], want[i]);
  }
  CHECK(nan_mismatch == 0);
  CHECK(nan_count > 0);  // the fixture's land SST points
  CHECK(errors.size() == c.task.target_variables.size());
  for (const auto& [var, e] : errors) {
    INFO(var << " rel L2 " << e.rel());
    CHECK(e.non_finite == 0);
    CHECK(e.rel() <= kTol);
  }
}

TEST_CASE("advance_frames builds the next step's inputs from the prediction",
          "[data][normalization][rollout]") {
  const Case c = prepare_denoise_case();
  NcFile file = NcFile::open_read(tiny_fixture("rollout_case_churn0.nc"));
  const int64_t n_lat = c.frames.n_lat(), n_lon = c.frames.n_lon(), n_grid = c.frames.n_grid();
  // Step-1 prediction (time index 0 of group prediction), physical units.
  const std::vector<float> pred =
      stack_targets(group_of(file, "prediction"), c.task, n_lat, n_lon, 0);
  const InputDataset next = advance_frames(c.frames, 1, pred.data(), c.target_time, c.task);

  REQUIRE(next.times_s == std::vector<int64_t>{c.frames.times_s[1], c.target_time});
  CHECK(next.lat == c.frames.lat);
  CHECK(next.lon == c.frames.lon);
  CHECK(next.fields.size() == c.frames.fields.size());
  const auto channels = target_channels(c.task);
  const int64_t n_tgt = static_cast<int64_t>(channels.size());
  for (const auto& [name, field] : c.frames.fields) {
    INFO(name);
    const ArrayF& got = next.field(name);
    REQUIRE(got.shape == field.shape);
    if (is_static_variable(name)) {
      CHECK(got.data == field.data);
      continue;
    }
    const int64_t levels = has_levels(name) ? static_cast<int64_t>(c.task.pressure_levels.size()) : 1;
    size_t mismatches = 0;
    for (int64_t l = 0; l < levels; ++l) {
      int64_t ch = 0;
      while (!(channels[static_cast<size_t>(ch)].variable == name &&
               channels[static_cast<size_t>(ch)].level == (has_levels(name) ? l : -1)))
        ++ch;
      for (int64_t node = 0; node < n_grid; ++node) {
        // Frame 0 = source frame 1 (the old init frame); frame 1 = the prediction.
        const float old_init = field.data[static_cast<size_t>((1 * levels + l) * n_grid + node)];
        const float kept = got.data[static_cast<size_t>((0 * levels + l) * n_grid + node)];
        const float fresh = got.data[static_cast<size_t>((1 * levels + l) * n_grid + node)];
        const float predicted = pred[static_cast<size_t>(node * n_tgt + ch)];
        auto same = [](float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; };
        mismatches += same(kept, old_init) ? 0 : 1;
        mismatches += same(fresh, predicted) ? 0 : 1;
      }
    }
    CHECK(mismatches == 0);
  }
  // The prediction's SST NaNs are cleaned again by the next step.
  const StepConditioning cond2 =
      prepare_step(next, 1, c.target_time + kModelStepSeconds, c.stats, c.task);
  CHECK(cond2.sst_nan_mask == c.cond.sst_nan_mask);
}

TEST_CASE("prepare_step rejects non-finite inputs of a diverged rollout", "[data][normalization]") {
  Case c = prepare_denoise_case();
  c.frames.fields.at("temperature").data[5] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(prepare_step(c.frames, 1, c.target_time, c.stats, c.task), RuntimeFailure);
}

TEST_CASE("rolling forward in place equals building the next frames afresh",
          "[data][normalization][rollout]") {
  const Case c = prepare_denoise_case();
  NcFile file = NcFile::open_read(tiny_fixture("rollout_case_churn0.nc"));
  const std::vector<float> pred =
      stack_targets(group_of(file, "prediction"), c.task, c.frames.n_lat(), c.frames.n_lon(), 0);
  const InputDataset fresh = advance_frames(c.frames, 1, pred.data(), c.target_time, c.task);
  InputDataset in_place = c.frames;
  advance_frames_in_place(in_place, pred.data(), c.target_time, c.task);
  CHECK(in_place.times_s == fresh.times_s);
  REQUIRE(in_place.fields.size() == fresh.fields.size());
  for (const auto& [name, field] : fresh.fields) {
    INFO(name);
    const ArrayF& other = in_place.fields.at(name);
    REQUIRE(other.shape == field.shape);
    // Bit-identical, NaNs (SST over land) in the same places.
    CHECK(std::memcmp(other.ptr(), field.ptr(), field.data.size() * sizeof(float)) == 0);
  }

  // The conditioning of the next step, written into reused arrays, equals a
  // fresh prepare_step (the reuse path must clear what the last step left).
  StepConditioning reused = c.cond;
  prepare_step_into(reused, fresh, 1, c.target_time + kModelStepSeconds, c.stats, c.task);
  const StepConditioning expected =
      prepare_step(fresh, 1, c.target_time + kModelStepSeconds, c.stats, c.task);
  CHECK(reused.features.data == expected.features.data);
  CHECK(std::memcmp(reused.last_input.ptr(), expected.last_input.ptr(),
                    expected.last_input.data.size() * sizeof(float)) == 0);
  CHECK(reused.sst_nan_mask == expected.sst_nan_mask);
}
