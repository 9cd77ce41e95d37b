// The year/day-progress features GenCast takes as inputs (at the input
// frames) and as forcings (at the target time), computed from the time and
// the grid longitudes exactly as the reference data_utils does:
//   year_progress = mod(seconds / 86400 / 365.24219, 1)            (float64 -> float32)
//   day_progress  = mod(mod(seconds, 86400) / 86400 + lon_rad / 2pi, 1)  (-> float32)
//   *_sin / *_cos = sin / cos(float32(progress) * float32(2pi)), in float32.
// Invariants: times are unix seconds (UTC); longitudes are degrees (float32,
// as stored in the input file). Year features are one value per time; day
// features one value per longitude (broadcast over latitude by the caller).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gencast {

float year_progress(int64_t unix_seconds);
// One value per longitude.
std::vector<float> day_progress(int64_t unix_seconds, const std::vector<float>& lon_deg);

// Values of one progress feature (year_progress_sin, ..., day_progress_cos)
// at one time: size 1 for year features, lon_deg.size() for day features.
// InputError for a name that is not a progress feature.
std::vector<float> progress_feature(const std::string& name, int64_t unix_seconds,
                                    const std::vector<float>& lon_deg);

}  // namespace gencast
