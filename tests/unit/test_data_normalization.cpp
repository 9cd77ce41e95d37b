// Normalization, NaN cleaning, forcings and channel stacking against the
// reference fixtures: denoise_case.nc was produced by the official JAX code
// from source_tiny.nc frames 0,1 (inputs) and frame 2 (target time) with the
// tiny *_by_level.nc statistics; rollout_case_churn0.nc step 2 starts from
// frame 1 plus the step-1 prediction.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>

#include "backend/backend.h"
#include "config/stacking.h"
#include "config/variables.h"
#include "core/parallel.h"
#include "data/normalization.h"
#include "runtime/member_worker.h"
#include "devices/device_factory.h"
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

TEST_CASE("the run's one first-step preparation is the fixture step's conditioning",
          "[data][normalization][forecast]") {
  // prepare_first_step (once per forecast, shared by every group) must be the
  // same conditioning as the official step the test above checks: the
  // initial frames' last time as the init frame, its +12 h as the target.
  const Case c = prepare_denoise_case();
  REQUIRE(c.frames.times_s.size() == 2);
  const FirstStepInputs first = prepare_first_step(c.task, c.stats, c.frames);
  CHECK(first.cond.features.shape == c.cond.features.shape);
  CHECK(first.cond.features.data == c.cond.features.data);
  CHECK(first.cond.last_input.data == c.cond.last_input.data);
  // The tiny task has SST as input and target: the land mask's bits exist,
  // one per grid node, and mark some nodes (the fixture has land).
  REQUIRE(first.land_bits.size() == static_cast<size_t>(c.frames.n_grid()));
  CHECK(std::count_if(first.land_bits.begin(), first.land_bits.end(),
                      [](float b) { return b != 0.f; }) > 0);
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

// ---------------------------------------------------------------------------
// Host side of one 0.25 deg forecast step, timed (hidden: `[.host-step]`).
// Prints milliseconds per function; asserts only that the work was done
// (speed is never asserted). Synthetic ERA5-like frames: every field is
// mean + stddev * (smooth pattern), SST NaN over "land", so the normalized
// values are finite and the SST mask is exercised.
namespace {

InputDataset synthetic_frames(const TaskConfig& task, const NormalizationStats& stats,
                              int64_t n_lat, int64_t n_lon) {
  InputDataset d;
  d.path = "synthetic";
  for (int64_t i = 0; i < n_lat; ++i)
    d.lat.push_back(static_cast<float>(-90.0 + 180.0 * static_cast<double>(i) /
                                                  static_cast<double>(n_lat - 1)));
  for (int64_t j = 0; j < n_lon; ++j)
    d.lon.push_back(static_cast<float>(360.0 * static_cast<double>(j) / static_cast<double>(n_lon)));
  d.levels = task.pressure_levels;
  const int64_t t0 = 1553817600;  // 2019-03-29T00:00Z
  const int64_t n_in = input_frame_count(task);
  for (int64_t t = 0; t < n_in; ++t) d.times_s.push_back(t0 + t * kModelStepSeconds);
  // Separable pattern in [-1, 1]: a(lat) * b(lon) plus a frame offset.
  std::vector<float> a(static_cast<size_t>(n_lat)), b(static_cast<size_t>(n_lon));
  for (int64_t i = 0; i < n_lat; ++i) a[static_cast<size_t>(i)] = std::cos(d.lat[static_cast<size_t>(i)] * 0.0174533f);
  for (int64_t j = 0; j < n_lon; ++j) b[static_cast<size_t>(j)] = std::sin(d.lon[static_cast<size_t>(j)] * 0.0349066f);
  const int64_t n_grid = n_lat * n_lon;
  auto fill_plane = [&](float* out, float mean, float stddev, float offset, bool land_nan) {
    for (int64_t i = 0; i < n_lat; ++i)
      for (int64_t j = 0; j < n_lon; ++j) {
        const float p = a[static_cast<size_t>(i)] * b[static_cast<size_t>(j)];
        const bool land = p > 0.5f;
        out[i * n_lon + j] = land_nan && land ? std::numeric_limits<float>::quiet_NaN()
                                              : mean + stddev * (0.5f * p + offset);
      }
  };
  for (const auto& name : task.input_variables) {
    if (is_progress_forcing(name)) continue;
    const bool levels = has_levels(name);
    const int64_t n_levels = levels ? static_cast<int64_t>(task.pressure_levels.size()) : 1;
    const auto& mean = stat_values(stats.mean, name, "mean_by_level");
    const auto& sd = stat_values(stats.stddev, name, "stddev_by_level");
    if (is_static_variable(name)) {
      ArrayF f({n_lat, n_lon});
      fill_plane(f.ptr(), mean[0], sd[0], 0.0f, false);
      d.fields[name] = std::move(f);
      continue;
    }
    Shape shape{n_in};
    if (levels) shape.push_back(n_levels);
    shape.push_back(n_lat);
    shape.push_back(n_lon);
    ArrayF f(shape);
    for (int64_t t = 0; t < n_in; ++t)
      for (int64_t l = 0; l < n_levels; ++l)
        fill_plane(f.ptr() + (t * n_levels + l) * n_grid, mean[static_cast<size_t>(l)],
                   sd[static_cast<size_t>(l)], 0.1f * static_cast<float>(t),
                   name == kNanFilledVariable);
    d.fields[name] = std::move(f);
  }
  return d;
}

// FNV-1a over the bytes: printed so that two builds' results can be compared
// bit for bit by eye (NaN payloads included).
uint64_t fnv1a(const float* data, int64_t n) {
  uint64_t h = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  for (int64_t i = 0; i < n * static_cast<int64_t>(sizeof(float)); ++i) {
    h ^= bytes[i];
    h *= 1099511628211ull;
  }
  return h;
}

template <class F>
double time_ms(F&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("host work of one 0.25 deg step, timed", "[.host-step]") {
  // GENCAST_HOST_STEP_WORKERS caps the workers (e.g. 1 for a serial baseline).
  const char* workers_env = std::getenv("GENCAST_HOST_STEP_WORKERS");
  ScopedParallelWorkers scope(workers_env ? std::atoi(workers_env) : parallel_worker_count());
  const TaskConfig task = default_gencast_task();
  const NormalizationStats stats =
      read_stats(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny", task);
  InputDataset frames;
  const double make_ms = time_ms([&] { frames = synthetic_frames(task, stats, 721, 1440); });
  const int64_t G = frames.n_grid();
  const auto C = static_cast<int64_t>(target_channels(task).size());
  const GridFeatureLayout layout = grid_feature_layout(task);
  const int64_t n_cond = layout.n_conditioning;
  std::printf("host step at %lld x %lld (G = %lld, C = %lld, n_cond = %lld), %d workers; "
              "frames built in %.0f ms\n",
              static_cast<long long>(frames.n_lat()), static_cast<long long>(frames.n_lon()),
              static_cast<long long>(G), static_cast<long long>(C),
              static_cast<long long>(n_cond), parallel_worker_count(), make_ms);

  std::unique_ptr<Backend> backend = make_backend("cpu", Precision::fp32);
  Tensor x = backend->empty({G, C}, DType::f32);
  backend->fill(x, 0.25f);
  ArrayF normalized({G, C});
  ArrayF physical({G, C});
  StepConditioning cond;
  int64_t bad_total = 0;
  for (int step = 0; step < 4; ++step) {
    const int64_t init_index = static_cast<int64_t>(frames.times_s.size()) - 1;
    const int64_t target_time = frames.times_s.back() + kModelStepSeconds;
    const double prep = time_ms(
        [&] { prepare_step_into(cond, frames, init_index, target_time, stats, task); });
    const double download = time_ms([&] { backend->download(x, normalized.ptr()); });
    int64_t bad = 0;
    const double to_phys = time_ms(
        [&] { bad = targets_to_physical(normalized.ptr(), cond, stats, task, physical.ptr()); });
    bad_total += bad;
    const double advance =
        time_ms([&] { advance_frames_in_place(frames, physical.ptr(), target_time, task); });
    // (Denoiser::set_conditioning's host side is timed by the forecast's
    // debug log: it needs a denoiser.)
    std::printf(
        "step %d: prepare_step_into %.1f | download(cpu memcpy) %.1f | "
        "targets_to_physical + check %.1f | advance_frames_in_place %.1f ms; total %.1f ms\n",
        step, prep, download, to_phys, advance, prep + download + to_phys + advance);
    const ArrayF& t = frames.field("temperature");
    std::printf("  hashes: features %016llx last_input %016llx physical %016llx frames %016llx\n",
                static_cast<unsigned long long>(fnv1a(cond.features.ptr(), cond.features.numel())),
                static_cast<unsigned long long>(fnv1a(cond.last_input.ptr(), cond.last_input.numel())),
                static_cast<unsigned long long>(fnv1a(physical.ptr(), physical.numel())),
                static_cast<unsigned long long>(fnv1a(t.ptr(), t.numel())));
  }
  CHECK(bad_total == 0);
  CHECK(!cond.sst_nan_mask.empty());
}

// ---------------------------------------------------------------------------
// The parallel host passes: the same bits on any worker count, reuse of the
// step's arrays, and the non-finite count of targets_to_physical.
namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// A normalized model output with a pattern that differs per channel and node.
std::vector<float> synthetic_output(int64_t n_grid, int64_t n_tgt) {
  std::vector<float> out(static_cast<size_t>(n_grid * n_tgt));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(static_cast<int64_t>(i * 2654435761u % 2001) - 1000) * 1e-3f;
  return out;
}

// Everything a step's host side produces, for bitwise comparison.
struct HostStepResult {
  StepConditioning cond;
  std::vector<float> physical;
  int64_t bad = 0;
  std::map<std::string, ArrayF> advanced;
};

HostStepResult run_host_step(const InputDataset& frames, const NormalizationStats& stats,
                             const TaskConfig& task, const std::vector<float>& output) {
  HostStepResult r;
  const auto init = static_cast<int64_t>(frames.times_s.size()) - 1;
  const int64_t target_time = frames.times_s.back() + kModelStepSeconds;
  prepare_step_into(r.cond, frames, init, target_time, stats, task);
  r.physical.resize(output.size());
  r.bad = targets_to_physical(output.data(), r.cond, stats, task, r.physical.data());
  InputDataset next = frames;
  advance_frames_in_place(next, r.physical.data(), target_time, task);
  r.advanced = next.fields;
  return r;
}

}  // namespace

TEST_CASE("host passes give the same bits on one worker and on several",
          "[data][normalization][parallel]") {
  const TaskConfig task = default_gencast_task();
  const NormalizationStats stats =
      read_stats(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny", task);
  // 1 degree: large enough that 7 workers really split the grid (ranges of
  // ~21,700 nodes, boundaries in mid latitude row).
  const InputDataset frames = synthetic_frames(task, stats, 181, 360);
  const int64_t G = frames.n_grid();
  REQUIRE(parallel_range_count(G, kDefaultMinParallelRows, 7) >= 3);
  const auto n_tgt = static_cast<int64_t>(target_channels(task).size());
  std::vector<float> output = synthetic_output(G, n_tgt);
  output[static_cast<size_t>(G / 2 * n_tgt + 1)] = std::numeric_limits<float>::infinity();

  HostStepResult serial, parallel;
  {
    ScopedParallelWorkers one(1);
    serial = run_host_step(frames, stats, task, output);
  }
  {
    ScopedParallelWorkers seven(7);
    parallel = run_host_step(frames, stats, task, output);
  }
  CHECK(same_bits(parallel.cond.features.data, serial.cond.features.data));
  CHECK(same_bits(parallel.cond.last_input.data, serial.cond.last_input.data));
  CHECK(parallel.cond.sst_nan_mask == serial.cond.sst_nan_mask);
  CHECK(std::count(serial.cond.sst_nan_mask.begin(), serial.cond.sst_nan_mask.end(), 1) > 0);
  CHECK(same_bits(parallel.physical, serial.physical));
  CHECK(serial.bad == 1);  // the one infinity planted above
  CHECK(parallel.bad == serial.bad);
  REQUIRE(parallel.advanced.size() == serial.advanced.size());
  for (const auto& [name, field] : serial.advanced) {
    INFO(name);
    CHECK(same_bits(parallel.advanced.at(name).data, field.data));
  }
}

TEST_CASE("prepare_step_into reuses its arrays and equals prepare_step", "[data][normalization]") {
  const Case c = prepare_denoise_case();
  StepConditioning rows;
  for (int pass = 0; pass < 2; ++pass) {  // the second pass writes into the first's arrays
    INFO("pass " << pass);
    prepare_step_into(rows, c.frames, 1, c.target_time, c.stats, c.task);
    CHECK(same_bits(rows.features.data, c.cond.features.data));
    CHECK(same_bits(rows.last_input.data, c.cond.last_input.data));
    CHECK(rows.sst_nan_mask == c.cond.sst_nan_mask);
  }
}

TEST_CASE("a non-finite normalized input is named", "[data][normalization]") {
  Case c = prepare_denoise_case();
  c.frames.fields.at("temperature").data[5] = std::numeric_limits<float>::infinity();
  StepConditioning cond;
  CHECK_THROWS_WITH(
      prepare_step_into(cond, c.frames, 1, c.target_time, c.stats, c.task),
      Catch::Contains("normalized input temperature is not finite at grid node 5"));
}

TEST_CASE("targets_to_physical counts non-finite values outside the SST land mask",
          "[data][normalization]") {
  const Case c = prepare_denoise_case();
  const auto channels = target_channels(c.task);
  const auto n_tgt = static_cast<int64_t>(channels.size());
  const int64_t G = c.cond.n_grid;
  int64_t sst = -1, other = -1;
  for (int64_t t = 0; t < n_tgt; ++t) {
    if (channels[static_cast<size_t>(t)].variable == kNanFilledVariable) sst = t;
    else if (other < 0) other = t;
  }
  REQUIRE(sst >= 0);
  REQUIRE(other >= 0);
  int64_t land = -1, sea = -1;
  for (int64_t g = 0; g < G; ++g) {
    if (c.cond.sst_nan_mask[static_cast<size_t>(g)] && land < 0) land = g;
    if (!c.cond.sst_nan_mask[static_cast<size_t>(g)] && sea < 0) sea = g;
  }
  REQUIRE(land >= 0);
  REQUIRE(sea >= 0);
  std::vector<float> normalized = synthetic_output(G, n_tgt), physical(normalized.size());
  CHECK(targets_to_physical(normalized.data(), c.cond, c.stats, c.task, physical.data()) == 0);
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  normalized[static_cast<size_t>(land * n_tgt + sst)] = inf;  // land SST: NaN by design
  CHECK(targets_to_physical(normalized.data(), c.cond, c.stats, c.task, physical.data()) == 0);
  CHECK(std::isnan(physical[static_cast<size_t>(land * n_tgt + sst)]));
  normalized[static_cast<size_t>(sea * n_tgt + sst)] = nan;  // sea SST must be finite
  normalized[static_cast<size_t>(land * n_tgt + other)] = -inf;  // other channels everywhere
  CHECK(targets_to_physical(normalized.data(), c.cond, c.stats, c.task, physical.data()) == 2);
}

TEST_CASE("rolling three input frames forward in place equals building them afresh",
          "[data][normalization][rollout][parallel]") {
  TaskConfig task = default_gencast_task();
  task.input_duration = "36h";  // three frames: the shift moves two of them
  REQUIRE(input_frame_count(task) == 3);
  const NormalizationStats stats =
      read_stats(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny", task);
  const InputDataset frames = synthetic_frames(task, stats, 181, 360);
  const int64_t G = frames.n_grid();
  const auto n_tgt = static_cast<int64_t>(target_channels(task).size());
  const std::vector<float> prediction = synthetic_output(G, n_tgt);
  const int64_t new_time = frames.times_s.back() + kModelStepSeconds;
  const InputDataset fresh = advance_frames(frames, 2, prediction.data(), new_time, task);
  InputDataset in_place = frames;
  {
    ScopedParallelWorkers five(5);  // several ranges, each shifting its nodes
    REQUIRE(parallel_range_count(G, kDefaultMinParallelRows, 5) >= 3);
    advance_frames_in_place(in_place, prediction.data(), new_time, task);
  }
  CHECK(in_place.times_s == fresh.times_s);
  REQUIRE(in_place.fields.size() == fresh.fields.size());
  for (const auto& [name, field] : fresh.fields) {
    INFO(name);
    CHECK(same_bits(in_place.fields.at(name).data, field.data));
  }
}
