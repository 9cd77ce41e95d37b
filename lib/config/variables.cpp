// Variable roles and task facts (see variables.h).
#include "config/variables.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace gencast {
namespace {

// Parses durations like "24h", "1d", "1d12h", "36 hours" or pandas'
// "1 days 00:00:00" into seconds; returns -1 when the text is not understood.
int64_t parse_duration_seconds(const std::string& text) {
  size_t i = 0;
  int64_t total = 0;
  bool any = false;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  while (true) {
    skip();
    if (i >= text.size()) break;
    int64_t value = 0;
    size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 12) {
      value = value * 10 + (text[i++] - '0');
      ++digits;
    }
    if (digits == 0) return -1;
    if (i < text.size() && text[i] == ':') {  // pandas "HH:MM:SS" tail
      int64_t parts[3] = {value, 0, 0};
      for (int p = 1; p < 3; ++p) {
        if (i >= text.size() || text[i] != ':') return -1;
        ++i;
        int64_t v = 0;
        size_t nd = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
          v = v * 10 + (text[i++] - '0');
          ++nd;
        }
        if (nd == 0) return -1;
        parts[p] = v;
      }
      total += parts[0] * 3600 + parts[1] * 60 + parts[2];
      any = true;
      continue;
    }
    skip();
    std::string unit;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
      unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i++])));
    int64_t scale = 0;
    if (unit == "h" || unit == "hr" || unit == "hour" || unit == "hours") scale = 3600;
    else if (unit == "d" || unit == "day" || unit == "days") scale = 86400;
    else if (unit == "m" || unit == "min" || unit == "minute" || unit == "minutes") scale = 60;
    else if (unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") scale = 1;
    else return -1;
    total += value * scale;
    any = true;
  }
  return any ? total : -1;
}

}  // namespace

bool is_static_variable(const std::string& name) {
  return name == "geopotential_at_surface" || name == "land_sea_mask";
}

bool is_progress_forcing(const std::string& name) {
  return name == "year_progress_sin" || name == "year_progress_cos" ||
         name == "day_progress_sin" || name == "day_progress_cos";
}

bool is_day_progress(const std::string& name) {
  return name == "day_progress_sin" || name == "day_progress_cos";
}

bool has_levels(const std::string& name) {
  // The reference's ALL_ATMOSPHERIC_VARS: fields defined on pressure levels.
  static const char* const kAtmospheric[] = {
      "potential_vorticity", "specific_rain_water_content", "specific_snow_water_content",
      "geopotential", "temperature", "u_component_of_wind", "v_component_of_wind",
      "specific_humidity", "vertical_velocity", "vorticity", "divergence", "relative_humidity",
      "ozone_mass_mixing_ratio", "specific_cloud_liquid_water_content",
      "specific_cloud_ice_water_content", "fraction_of_cloud_cover"};
  return std::any_of(std::begin(kAtmospheric), std::end(kAtmospheric),
                     [&](const char* a) { return name == a; });
}

bool list_contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<std::string> sorted_names(std::vector<std::string> names) {
  // std::string compares bytes as unsigned char, like Python compares code points for ASCII.
  std::sort(names.begin(), names.end());
  return names;
}

int64_t input_frame_count(const TaskConfig& task) {
  const int64_t seconds = parse_duration_seconds(task.input_duration);
  if (seconds <= 0 || seconds % kModelStepSeconds != 0)
    fail_input("", "task_config:input_duration",
               "a positive multiple of 12 hours such as '24h' (two input frames)",
               "'" + task.input_duration + "'");
  return seconds / kModelStepSeconds;
}

std::vector<std::string> time_varying_inputs(const TaskConfig& task) {
  std::vector<std::string> out;
  for (const auto& v : task.input_variables)
    if (!is_static_variable(v) && !is_progress_forcing(v)) out.push_back(v);
  return out;
}

bool is_residual_target(const TaskConfig& task, const std::string& name) {
  return list_contains(task.input_variables, name);
}

void check_task_supported(const TaskConfig& task) {
  ProblemList problems;
  for (const auto& f : task.forcing_variables) {
    if (!is_progress_forcing(f))
      problems.add("", "task_config:forcing_variables", "only year/day_progress_{sin,cos}",
                   "\"" + f + "\"", "GenCast computes its forcings from the date; other forcings "
                   "are not supported");
    if (list_contains(task.target_variables, f))
      problems.add("", "task_config:forcing_variables", "no overlap with target_variables",
                   "\"" + f + "\" in both");
  }
  for (const auto& t : task.target_variables)
    if (is_static_variable(t) || is_progress_forcing(t))
      problems.add("", "task_config:target_variables", "time-varying physical variables",
                   "\"" + t + "\"");
  if (task.target_variables.empty())
    problems.add("", "task_config:target_variables", "at least one variable", "none");
  std::vector<int64_t> levels = task.pressure_levels;
  std::sort(levels.begin(), levels.end());
  if (std::adjacent_find(levels.begin(), levels.end()) != levels.end())
    problems.add("", "task_config:pressure_levels", "distinct levels", "duplicates");
  const bool needs_levels =
      std::any_of(task.target_variables.begin(), task.target_variables.end(), has_levels) ||
      std::any_of(task.input_variables.begin(), task.input_variables.end(), has_levels);
  if (needs_levels && levels.empty())
    problems.add("", "task_config:pressure_levels", "at least one level", "none");
  problems.collect([&] { (void)input_frame_count(task); });
  problems.throw_if_any();
}

}  // namespace gencast
