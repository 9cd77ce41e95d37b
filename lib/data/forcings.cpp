// Progress features, with the reference's float32/float64 steps (see forcings.h).
#include "data/forcings.h"

#include <cmath>

#include "config/variables.h"
#include "core/error.h"

namespace gencast {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kSecondsPerDay = 86400;
constexpr double kAverageDaysPerYear = 365.24219;

// numpy's float mod: the result takes the sign of the divisor (1 here).
double mod1(double x) {
  double r = std::fmod(x, 1.0);
  if (r < 0) r += 1.0;
  return r;
}

}  // namespace

float year_progress(int64_t unix_seconds) {
  const double years = static_cast<double>(unix_seconds) / static_cast<double>(kSecondsPerDay) /
                       kAverageDaysPerYear;
  return static_cast<float>(mod1(years));
}

std::vector<float> day_progress(int64_t unix_seconds, const std::vector<float>& lon_deg) {
  int64_t seconds_of_day = unix_seconds % kSecondsPerDay;
  if (seconds_of_day < 0) seconds_of_day += kSecondsPerDay;
  const double greenwich =
      static_cast<double>(seconds_of_day) / static_cast<double>(kSecondsPerDay);
  // The reference converts float32 longitudes with float32 arithmetic
  // (deg2rad, then / 2pi) before adding them to the float64 Greenwich progress.
  const float deg_to_rad = static_cast<float>(kPi / 180.0);
  const float two_pi = static_cast<float>(2.0 * kPi);
  std::vector<float> out(lon_deg.size());
  for (size_t i = 0; i < lon_deg.size(); ++i) {
    const float offset = lon_deg[i] * deg_to_rad / two_pi;
    out[i] = static_cast<float>(mod1(greenwich + static_cast<double>(offset)));
  }
  return out;
}

std::vector<float> progress_feature(const std::string& name, int64_t unix_seconds,
                                    const std::vector<float>& lon_deg) {
  if (!is_progress_forcing(name))
    fail_input("", name, "a progress feature (year/day_progress_sin/cos)", "\"" + name + "\"");
  std::vector<float> progress = is_day_progress(name)
                                    ? day_progress(unix_seconds, lon_deg)
                                    : std::vector<float>{year_progress(unix_seconds)};
  const bool is_sin = name.size() >= 4 && name.compare(name.size() - 4, 4, "_sin") == 0;
  const float two_pi = static_cast<float>(2.0 * kPi);
  for (float& p : progress) {
    const float phase = p * two_pi;  // float32 product, as numpy does for a float32 array
    p = is_sin ? std::sin(phase) : std::cos(phase);
  }
  return progress;
}

}  // namespace gencast
