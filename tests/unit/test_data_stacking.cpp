// Channel stacking rules (sorted names, time outermost then level, forcings
// and noisy targets sorted together) and task facts derived from the config.
// The exact GenCast order is pinned against the reference in
// test_data_normalization.cpp; here the rules are checked on their own.
#include <catch2/catch.hpp>

#include <set>

#include "config/stacking.h"
#include "config/variables.h"
#include "core/error.h"

using namespace gencast;

namespace {

// A small task whose stacking is easy to derive by hand from the rules.
TaskConfig small_task() {
  TaskConfig t;
  t.input_variables = {"temperature", "2m_temperature", "land_sea_mask", "day_progress_sin"};
  t.target_variables = {"temperature", "2m_temperature", "total_precipitation_12hr"};
  t.forcing_variables = {"day_progress_sin"};
  t.pressure_levels = {500, 850};
  t.input_duration = "24h";
  return t;
}

}  // namespace

TEST_CASE("the small task stacks as the rules say", "[data][stacking]") {
  const GridFeatureLayout layout = grid_feature_layout(small_task());
  // Inputs, sorted: 2m_temperature (t0, t1), day_progress_sin (t0, t1),
  // land_sea_mask (static), temperature (t0 l0, t0 l1, t1 l0, t1 l1). Then
  // forcings + targets sorted together: 2m_temperature, day_progress_sin
  // (forcing), temperature (l0, l1), total_precipitation_12hr.
  const std::vector<ChannelSlot> want = {
      {"2m_temperature", 0, -1}, {"2m_temperature", 1, -1}, {"day_progress_sin", 0, -1},
      {"day_progress_sin", 1, -1}, {"land_sea_mask", 0, -1}, {"temperature", 0, 0},
      {"temperature", 0, 1}, {"temperature", 1, 0}, {"temperature", 1, 1},
      {"2m_temperature", 0, -1}, {"day_progress_sin", 0, -1}, {"temperature", 0, 0},
      {"temperature", 0, 1}, {"total_precipitation_12hr", 0, -1}};
  CHECK(layout.slots == want);
  CHECK(layout.kind == std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 2, 2});
  // Targets in sorted order: 2m_temperature, temperature l0, l1, total_precipitation_12hr.
  CHECK(layout.target_index == std::vector<int>{-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, -1, 1, 2, 3});
  CHECK(layout.cond_index == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, -1, 9, -1, -1, -1});
  CHECK(layout.n_conditioning == 10);
  CHECK(layout.n_targets == 4);
}

TEST_CASE("GenCast's channel counts match the reference", "[data][stacking]") {
  // Reference facts (fixture README): 176 input channels, 88 forcing + noisy
  // target channels, 84 outputs.
  const TaskConfig task = default_gencast_task();
  CHECK(input_channels(task).size() == 176);
  CHECK(target_channels(task).size() == 84);
  const GridFeatureLayout layout = grid_feature_layout(task);
  CHECK(layout.channels() == 264);
  CHECK(layout.n_targets == 84);
  CHECK(layout.n_conditioning == 180);
  // Each output channel appears exactly once among the noisy targets.
  std::set<int> seen;
  for (int c = 0; c < layout.channels(); ++c)
    if (layout.kind[c] == kChannelNoisyTarget) seen.insert(layout.target_index[c]);
  CHECK(seen.size() == 84);
  CHECK(*seen.begin() == 0);
  CHECK(*seen.rbegin() == 83);
  // Outputs in byte order of names, levels ascending inside a variable.
  const auto targets = target_channels(task);
  for (size_t i = 1; i < targets.size(); ++i) {
    const bool same_var = targets[i].variable == targets[i - 1].variable;
    CHECK((same_var ? targets[i].level == targets[i - 1].level + 1
                    : targets[i - 1].variable < targets[i].variable));
  }
}

TEST_CASE("assemble_grid_features interleaves conditioning and scaled noisy targets",
          "[data][stacking]") {
  const GridFeatureLayout layout = grid_feature_layout(small_task());
  const int64_t n_grid = 3;
  std::vector<float> cond(static_cast<size_t>(n_grid * layout.n_conditioning));
  std::vector<float> noisy(static_cast<size_t>(n_grid * layout.n_targets));
  for (size_t i = 0; i < cond.size(); ++i) cond[i] = static_cast<float>(i);
  for (size_t i = 0; i < noisy.size(); ++i) noisy[i] = 1000.0f + static_cast<float>(i);
  std::vector<float> out(static_cast<size_t>(n_grid * layout.channels()));
  assemble_grid_features(layout, n_grid, cond.data(), noisy.data(), 0.5f, out.data());
  for (int64_t node = 0; node < n_grid; ++node)
    for (int c = 0; c < layout.channels(); ++c) {
      const float got = out[static_cast<size_t>(node * layout.channels() + c)];
      const float want =
          layout.kind[c] == kChannelNoisyTarget
              ? 0.5f * noisy[static_cast<size_t>(node * layout.n_targets + layout.target_index[c])]
              : cond[static_cast<size_t>(node * layout.n_conditioning + layout.cond_index[c])];
      CHECK(got == want);
    }
}

TEST_CASE("task facts: input frames, residual targets, supported forcings", "[data][stacking]") {
  TaskConfig task = default_gencast_task();
  CHECK(input_frame_count(task) == 2);
  for (const char* d : {"1d", "24 hours", "1 days 00:00:00", "12h12h"}) {
    task.input_duration = d;
    INFO(d);
    CHECK(input_frame_count(task) == 2);
  }
  task.input_duration = "36h";
  CHECK(input_frame_count(task) == 3);
  for (const char* d : {"18h", "", "two days", "0h"}) {
    task.input_duration = d;
    INFO(d);
    CHECK_THROWS_WITH(input_frame_count(task), Catch::Contains("task_config:input_duration"));
  }
  task = default_gencast_task();
  CHECK(is_residual_target(task, "temperature"));
  CHECK_FALSE(is_residual_target(task, "total_precipitation_12hr"));
  CHECK(time_varying_inputs(task).size() == 11);  // 5 surface + 6 atmospheric
  CHECK_NOTHROW(check_task_supported(task));
  task.forcing_variables.push_back("toa_incident_solar_radiation");
  CHECK_THROWS_WITH(check_task_supported(task),
                    Catch::Contains("task_config:forcing_variables") &&
                        Catch::Contains("toa_incident_solar_radiation"));
}

TEST_CASE("variable roles", "[data][stacking]") {
  CHECK(is_static_variable("land_sea_mask"));
  CHECK_FALSE(is_static_variable("2m_temperature"));
  CHECK(is_progress_forcing("day_progress_cos"));
  CHECK_FALSE(is_progress_forcing("day_progress"));
  CHECK(has_levels("specific_humidity"));
  CHECK_FALSE(has_levels("sea_surface_temperature"));
  // Python sorts by code point: digits before letters, '_' (0x5f) before 'a'.
  CHECK(sorted_names({"geopotential_at_surface", "geopotential", "2m_temperature",
                      "10m_u_component_of_wind"}) ==
        std::vector<std::string>{"10m_u_component_of_wind", "2m_temperature", "geopotential",
                                 "geopotential_at_surface"});
}
