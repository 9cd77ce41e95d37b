// Normalization statistics (mean_by_level.nc, stddev_by_level.nc,
// diffs_stddev_by_level.nc, min_by_level.nc in one folder), reduced to what
// the task needs: for every variable one value per task pressure level
// (atmospheric variables, selected by level value from the files' 37 ERA5
// levels) or a single value.
//
// Which variable needs which statistic (InputsAndResiduals + NaNCleaner):
//   mean, stddev   every input, forcing and target variable;
//   diffs_stddev   targets that are also inputs (predicted as residuals);
//   min            sea_surface_temperature, the NaN fill value.
// Invariants after reading: every needed entry exists with the right size,
// is finite, and stddev / diffs_stddev are > 0. Values are float32, as the
// reference casts the statistics to the data's dtype before using them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "core/error.h"

namespace gencast {

struct NormalizationStats {
  // Per variable: size = number of task levels (atmospheric) or 1.
  std::map<std::string, std::vector<float>> mean, stddev, diffs_stddev, min;
};

// File names inside the stats folder.
inline constexpr const char* kMeanStatsFile = "mean_by_level.nc";
inline constexpr const char* kStddevStatsFile = "stddev_by_level.nc";
inline constexpr const char* kDiffsStddevStatsFile = "diffs_stddev_by_level.nc";
inline constexpr const char* kMinStatsFile = "min_by_level.nc";

// Reads and validates; InputError listing every problem found.
NormalizationStats read_stats(const std::string& dir, const TaskConfig& task);
// Adds every problem with the stats folder to `problems` instead of throwing.
void check_stats(const std::string& dir, const TaskConfig& task, ProblemList& problems);

// The entry for `name`, or RuntimeFailure if absent (a programming error once
// read_stats has validated the folder).
const std::vector<float>& stat_values(const std::map<std::string, std::vector<float>>& stats,
                                      const std::string& name, const char* which);

}  // namespace gencast
