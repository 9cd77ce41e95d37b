// The step transition on the backend (data/step_transition_plan.h +
// Backend::step_to_physical / step_advance) against the host path it replaces
// (prepare_step_into / targets_to_physical / advance_frames_in_place): bitwise
// over several steps, on random frames (never zeros) with SST NaN over a random
// land mask, random model outputs, two members stacked as slots, two and three
// input frames.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "backend/cpu_backend.h"
#include "config/stacking.h"
#include "config/variables.h"
#include "core/parallel.h"
#include "data/normalization.h"
#include "data/step_transition_plan.h"
#include "io/stats.h"

using namespace gencast;

namespace {

NormalizationStats tiny_stats(const TaskConfig& task) {
  return read_stats(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny", task);
}

// Random physical frames: mean + stddev * U(-2, 2) (never exactly the mean),
// SST NaN over a random land mask that differs between frames.
InputDataset random_frames(const TaskConfig& task, const NormalizationStats& stats, int64_t n_lat,
                           int64_t n_lon, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::uniform_real_distribution<float> coin(0.f, 1.f);
  InputDataset d;
  d.path = "random";
  for (int64_t i = 0; i < n_lat; ++i) d.lat.push_back(-90.f + 180.f * static_cast<float>(i) / static_cast<float>(n_lat - 1));
  for (int64_t j = 0; j < n_lon; ++j) d.lon.push_back(360.f * static_cast<float>(j) / static_cast<float>(n_lon));
  d.levels = task.pressure_levels;
  const int64_t n_in = input_frame_count(task);
  for (int64_t t = 0; t < n_in; ++t) d.times_s.push_back(1553817600 + 7 * 3600 + t * kModelStepSeconds);
  const int64_t G = n_lat * n_lon;
  for (const auto& name : task.input_variables) {
    if (is_progress_forcing(name)) continue;
    const int64_t n_levels = has_levels(name) ? static_cast<int64_t>(task.pressure_levels.size()) : 1;
    const auto& mean = stat_values(stats.mean, name, "mean_by_level");
    const auto& sd = stat_values(stats.stddev, name, "stddev_by_level");
    const int64_t frames = is_static_variable(name) ? 1 : n_in;
    Shape shape;
    if (!is_static_variable(name)) shape.push_back(n_in);
    if (has_levels(name)) shape.push_back(n_levels);
    shape.push_back(n_lat);
    shape.push_back(n_lon);
    ArrayF f(shape);
    for (int64_t t = 0; t < frames; ++t)
      for (int64_t l = 0; l < n_levels; ++l)
        for (int64_t g = 0; g < G; ++g) {
          float v = mean[static_cast<size_t>(l)] + sd[static_cast<size_t>(l)] * u(rng);
          if (name == kNanFilledVariable && coin(rng) < 0.3f) v = std::numeric_limits<float>::quiet_NaN();
          f.data[static_cast<size_t>((t * n_levels + l) * G + g)] = v;
        }
    d.fields[name] = std::move(f);
  }
  return d;
}

// A random normalized model output.
std::vector<float> random_output(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  std::vector<float> out(static_cast<size_t>(n));
  for (float& v : out) v = u(rng);
  return out;
}

bool same_bits(const float* a, const float* b, int64_t n) {
  return std::memcmp(a, b, static_cast<size_t>(n) * sizeof(float)) == 0;
}

// Rolls `slots` members (each its own random frames and outputs) over `steps`
// steps both ways and compares every step bitwise.
void check_rollout(const TaskConfig& task, int64_t n_lat, int64_t n_lon, int slots, int steps) {
  const NormalizationStats stats = tiny_stats(task);
  CpuBackend cpu;
  const StepTransition plan = plan_step_transition(task, stats, n_lon);
  const auto backend_plan = cpu.plan_step_transition(plan.tables);
  const int64_t G = n_lat * n_lon, R = slots * G;
  const int64_t T = static_cast<int64_t>(target_channels(task).size());
  const int64_t K = grid_feature_layout(task).n_conditioning;
  const int64_t W = K + 5;  // the denoiser's rows are wider: the rest must stay untouched
  const int64_t n_in = input_frame_count(task);
  REQUIRE(plan.tables.land_target >= 0);
  REQUIRE(plan.tables.n_conditioning() == K);

  std::vector<InputDataset> frames;
  std::vector<StepConditioning> cond(static_cast<size_t>(slots));
  for (int b = 0; b < slots; ++b)
    frames.push_back(random_frames(task, stats, n_lat, n_lon, 100u + static_cast<uint32_t>(b)));
  Tensor conditioning = cpu.empty({R, W}, DType::f32);
  Tensor bases = cpu.empty({R, T}, DType::f32);
  Tensor land = cpu.empty({R, 1}, DType::f32);
  Tensor x = cpu.empty({R, T}, DType::f32);
  Tensor physical = cpu.empty({R, T}, DType::f32);
  Tensor forcings = cpu.empty({plan.tables.forcing_rows, n_lon}, DType::f32);
  const std::vector<float> tail = random_output(R * W, 7);  // the columns after K
  std::copy(tail.begin(), tail.end(), conditioning.as<float>());

  int64_t target_time = frames[0].times_s.back() + kModelStepSeconds;
  for (int step = 0; step < steps; ++step) {
    INFO("step " << step);
    for (int b = 0; b < slots; ++b) {
      auto& c = cond[static_cast<size_t>(b)];
      prepare_step_into(c, frames[static_cast<size_t>(b)], n_in - 1, target_time, stats, task);
      if (step == 0) {  // the host prepares the first step; the backend takes it from there
        for (int64_t g = 0; g < G; ++g)
          std::copy_n(c.features.ptr() + g * K, K, conditioning.as<float>() + (b * G + g) * W);
        std::copy_n(c.last_input.ptr(), G * T, bases.as<float>() + b * G * T);
        step_land_bits(plan, frames[static_cast<size_t>(b)], n_in - 1, land.as<float>() + b * G);
      } else {  // the backend's conditioning equals the host's
        for (int64_t g = 0; g < G; ++g)
          REQUIRE(same_bits(conditioning.as<float>() + (b * G + g) * W, c.features.ptr() + g * K, K));
        REQUIRE(same_bits(bases.as<float>() + b * G * T, c.last_input.ptr(), G * T));
        for (int64_t g = 0; g < G; ++g)
          REQUIRE((land.as<float>()[b * G + g] != 0.f) == (c.sst_nan_mask[static_cast<size_t>(g)] != 0));
      }
    }
    REQUIRE(same_bits(conditioning.as<float>() + K, tail.data() + K, W - K));  // untouched
    std::vector<float> out = random_output(R * T, 1000u + static_cast<uint32_t>(step));
    for (int64_t r = 0; r < R; r += 3)  // SST over land: the restored NaN wins, as on the host
      if (land.as<float>()[r] != 0.f)
        out[static_cast<size_t>(r * T + plan.tables.land_target)] = std::numeric_limits<float>::infinity();
    std::copy(out.begin(), out.end(), x.as<float>());
    cpu.step_to_physical(*backend_plan, x, bases, land, physical);
    for (int b = 0; b < slots; ++b) {
      std::vector<float> host(static_cast<size_t>(G * T));
      const int64_t bad = targets_to_physical(out.data() + b * G * T, cond[static_cast<size_t>(b)],
                                              stats, task, host.data());
      REQUIRE(bad == 0);
      REQUIRE(same_bits(physical.as<float>() + b * G * T, host.data(), G * T));
      advance_frames_in_place(frames[static_cast<size_t>(b)], host.data(), target_time, task);
    }
    target_time += kModelStepSeconds;
    step_forcings(plan, target_time, frames[0].lon, forcings.as<float>());
    cpu.step_advance(*backend_plan, physical, forcings, bases, land, conditioning);
  }
  for (int64_t r = 0; r < R; ++r)  // the columns after K, every row
    REQUIRE(same_bits(conditioning.as<float>() + r * W + K, tail.data() + r * W + K, W - K));
}

}  // namespace

TEST_CASE("step transition on the CPU backend equals the host path, bit for bit",
          "[data][step_transition]") {
  TaskConfig task = default_gencast_task();
  SECTION("two input frames, two slots, several workers") {
    ScopedParallelWorkers three(3);
    check_rollout(task, 9, 13, 2, 4);
  }
  SECTION("three input frames, one slot") {
    task.input_duration = "36h";
    REQUIRE(input_frame_count(task) == 3);
    check_rollout(task, 7, 10, 1, 4);
  }
}

TEST_CASE("step transition plan: column sources follow the channel layout",
          "[data][step_transition]") {
  const TaskConfig task = default_gencast_task();
  const NormalizationStats stats = tiny_stats(task);
  const StepTransition plan = plan_step_transition(task, stats, 8);
  const GridFeatureLayout layout = grid_feature_layout(task);
  const auto targets = target_channels(task);
  int shifts = 0, newest = 0, forcings = 0, keeps = 0;
  for (int s = 0; s < layout.channels(); ++s) {
    if (layout.kind[static_cast<size_t>(s)] == kChannelNoisyTarget) continue;
    const ChannelSlot& slot = layout.slots[static_cast<size_t>(s)];
    const auto c = static_cast<size_t>(layout.cond_index[static_cast<size_t>(s)]);
    INFO(slot.variable << " time " << slot.time << " level " << slot.level);
    switch (plan.tables.column_kind[c]) {
      case kColumnShift: {
        ++shifts;
        // The same variable and level, one frame newer.
        bool found = false;
        for (int s2 = 0; s2 < layout.channels(); ++s2)
          if (layout.cond_index[static_cast<size_t>(s2)] == plan.tables.column_index[c]) {
            const ChannelSlot& src = layout.slots[static_cast<size_t>(s2)];
            CHECK(src.variable == slot.variable);
            CHECK(src.level == slot.level);
            CHECK(src.time == slot.time + 1);
            found = true;
          }
        CHECK(found);
        break;
      }
      case kColumnNewest: {
        ++newest;
        const ChannelSlot& t = targets.at(static_cast<size_t>(plan.tables.column_index[c]));
        CHECK(t.variable == slot.variable);
        CHECK(t.level == slot.level);
        CHECK(plan.tables.column_fill_nan[c] == (slot.variable == kNanFilledVariable));
        break;
      }
      case kColumnForcing:
        ++forcings;
        CHECK(is_progress_forcing(slot.variable));
        break;
      default:
        ++keeps;
        CHECK(is_static_variable(slot.variable));
    }
  }
  CHECK(shifts > 0);
  // Two frames: every time-varying input has one shifted column; its newest
  // column comes from the prediction, or from the host for the 4 progress features.
  CHECK(newest + 4 == shifts);
  CHECK(forcings == 8);  // 4 progress features as forcings and as newest-frame inputs
  CHECK(keeps == 2);        // geopotential_at_surface, land_sea_mask
  CHECK(targets.at(static_cast<size_t>(plan.tables.land_target)).variable == kNanFilledVariable);
}

TEST_CASE("step transition ops reject operands that do not fit the tables",
          "[data][step_transition]") {
  const TaskConfig task = default_gencast_task();
  const StepTransition plan = plan_step_transition(task, tiny_stats(task), 4);
  CpuBackend cpu;
  const auto p = cpu.plan_step_transition(plan.tables);
  const int64_t T = plan.tables.n_targets(), K = plan.tables.n_conditioning();
  Tensor x = cpu.empty({8, T}, DType::f32), bases = cpu.empty({8, T}, DType::f32);
  Tensor land = cpu.empty({8, 1}, DType::f32), phys = cpu.empty({8, T}, DType::f32);
  Tensor narrow = cpu.empty({8, T - 1}, DType::f32);
  Tensor cond = cpu.empty({8, K - 1}, DType::f32);
  Tensor forc = cpu.empty({plan.tables.forcing_rows, 4}, DType::f32);
  CHECK_THROWS_WITH(cpu.step_to_physical(*p, x, bases, land, narrow),
                    Catch::Contains("one column per target"));
  CHECK_THROWS_WITH(cpu.step_advance(*p, phys, forc, bases, land, cond),
                    Catch::Contains(">= n_conditioning"));
  StepTransitionTables bad = plan.tables;
  bad.column_index[0] = static_cast<int32_t>(K + 3);
  bad.column_kind[0] = kColumnShift;
  CHECK_THROWS_WITH(cpu.plan_step_transition(bad), Catch::Contains("shift source out of range"));
}
