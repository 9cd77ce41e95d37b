// Statistics folder reader: per-file checks, level selection, value checks (see stats.h).
#include "io/stats.h"

#include "core/text.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "config/variables.h"
#include "io/netcdf_util.h"

namespace gencast {
namespace {

// Reads the needed variables of the open statistics file `ncid` into `out`,
// recording every problem. `positive`: the values are scales and must be > 0.
void read_stats_values(int ncid, const std::string& path, const std::vector<std::string>& needed,
                       const TaskConfig& task, bool positive, ProblemList& problems,
                       std::map<std::string, std::vector<float>>& out) {
  std::vector<std::string> missing;
  for (const auto& name : needed)
    if (!nc_find_var(ncid, name)) missing.push_back(name);
  if (!missing.empty())
    problems.add(path, join(missing), "a statistic for every input, forcing and target variable",
                 "missing", "use the statistics files shipped with the checkpoint");

  // Map task levels to positions along the file's level axis.
  std::vector<int> level_pos;
  bool levels_ok = true;
  const bool any_levels = std::any_of(needed.begin(), needed.end(), has_levels);
  if (any_levels) {
    auto level_var = nc_find_var(ncid, "level");
    if (!level_var || level_var->dims != std::vector<std::string>{"level"}) {
      problems.add(path, "level", "a 1-D level coordinate (hPa) over the dimension level",
                   level_var ? "dims " + level_var->dims_string() : "missing");
      levels_ok = false;
    } else {
      const std::vector<double> file_levels = nc_read_all_f64(*level_var);
      std::vector<int64_t> absent;
      for (int64_t want : task.pressure_levels) {
        int pos = -1;
        for (size_t i = 0; i < file_levels.size(); ++i)
          if (std::fabs(file_levels[i] - static_cast<double>(want)) < 1e-6)
            pos = static_cast<int>(i);
        if (pos < 0) absent.push_back(want);
        level_pos.push_back(pos);
      }
      if (!absent.empty()) {
        problems.add(path, "level",
                     "all task pressure levels (" + join_numbers(task.pressure_levels) + ")",
                     "missing " + join_numbers(absent));
        levels_ok = false;
      }
    }
  }

  for (const auto& name : needed) {
    auto var = nc_find_var(ncid, name);
    if (!var) continue;
    std::vector<float> values;
    if (has_levels(name)) {
      if (var->dims != std::vector<std::string>{"level"}) {
        problems.add(path, name, "dims (level)", "dims " + var->dims_string());
        continue;
      }
      if (!levels_ok) continue;
      std::vector<float> all;
      if (!nc_collect_read(path, name, problems, [&] { all = nc_read_all_f32(*var); })) continue;
      for (int pos : level_pos) values.push_back(all[static_cast<size_t>(pos)]);
    } else {
      if (var->numel() != 1) {
        problems.add(path, name, "a scalar", "dims " + var->dims_string());
        continue;
      }
      if (!nc_collect_read(path, name, problems, [&] { values = nc_read_all_f32(*var); })) continue;
    }
    size_t bad = 0;
    for (float v : values)
      if (!std::isfinite(v) || (positive && !(v > 0.0f))) ++bad;
    if (bad > 0) {
      problems.add(path, name, positive ? "finite values > 0" : "finite values",
                   std::to_string(bad) + " invalid value(s)");
      continue;
    }
    out[name] = std::move(values);
  }
}

// Reads one statistics file (see read_stats_values), recording every problem.
void read_stats_file(const std::string& path, const std::vector<std::string>& needed,
                     const TaskConfig& task, bool positive, ProblemList& problems,
                     std::map<std::string, std::vector<float>>& out) {
  if (needed.empty()) return;
  ProblemList local;
  local.collect([&] {
    NcFile file = NcFile::open_read(path);
    // A library failure (a corrupt file) names the file; reads of values name the variable.
    nc_collect_read(path, "", local, [&] {
      read_stats_values(file.id(), path, needed, task, positive, local, out);
    });
  });
  for (const auto& p : local.problems()) problems.add(p);
}

NormalizationStats read_stats_collecting(const std::string& dir, const TaskConfig& task,
                                         ProblemList& problems) {
  NormalizationStats stats;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    problems.add(dir, "", "a folder holding mean_by_level.nc, stddev_by_level.nc, "
                 "diffs_stddev_by_level.nc and min_by_level.nc",
                 std::filesystem::exists(dir, ec) ? "a file" : "no such folder");
    return stats;
  }
  std::set<std::string> all;
  for (const auto* list : {&task.input_variables, &task.forcing_variables, &task.target_variables})
    all.insert(list->begin(), list->end());
  const std::vector<std::string> mean_std(all.begin(), all.end());
  std::vector<std::string> residual;
  for (const auto& t : task.target_variables)
    if (is_residual_target(task, t)) residual.push_back(t);
  std::vector<std::string> fill;
  if (list_contains(task.input_variables, kNanFilledVariable)) fill.push_back(kNanFilledVariable);

  const std::filesystem::path d(dir);
  read_stats_file((d / kMeanStatsFile).string(), mean_std, task, false, problems, stats.mean);
  read_stats_file((d / kStddevStatsFile).string(), mean_std, task, true, problems, stats.stddev);
  read_stats_file((d / kDiffsStddevStatsFile).string(), residual, task, true, problems,
                  stats.diffs_stddev);
  read_stats_file((d / kMinStatsFile).string(), fill, task, false, problems, stats.min);
  return stats;
}

}  // namespace

NormalizationStats read_stats(const std::string& dir, const TaskConfig& task) {
  ProblemList problems;
  NormalizationStats stats = read_stats_collecting(dir, task, problems);
  problems.throw_if_any();
  return stats;
}

void check_stats(const std::string& dir, const TaskConfig& task, ProblemList& problems) {
  (void)read_stats_collecting(dir, task, problems);
}

const std::vector<float>& stat_values(const std::map<std::string, std::vector<float>>& stats,
                                      const std::string& name, const char* which) {
  auto it = stats.find(name);
  if (it == stats.end())
    throw RuntimeFailure(std::string("normalization statistics: no ") + which + " for " + name);
  return it->second;
}

}  // namespace gencast
