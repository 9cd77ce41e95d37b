// Noise-level schedule and churn rates; see schedule.h for the formulas.
#include "sampler/schedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"

namespace gencast {
namespace {

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void validate(const SamplerConfig& c, const std::string& source) {
  ProblemList problems;
  auto field = [](const char* name) { return std::string("sampler_config:") + name; };
  if (c.num_noise_levels < 1 || c.num_noise_levels > kMaxNoiseLevels)
    problems.add(source, field("num_noise_levels"),
                 "an integer in [1, " + std::to_string(kMaxNoiseLevels) + "]",
                 std::to_string(c.num_noise_levels), "the official models use 20");
  // min > 0 keeps every level but the appended 0 positive, so each step but the
  // last takes a proper midpoint (a zero level would divide by zero).
  if (!(std::isfinite(c.min_noise_level) && c.min_noise_level > 0))
    problems.add(source, field("min_noise_level"), "a finite number > 0",
                 number(c.min_noise_level));
  if (!(std::isfinite(c.max_noise_level) && c.max_noise_level > c.min_noise_level))
    problems.add(source, field("max_noise_level"),
                 "a finite number > min_noise_level (" + number(c.min_noise_level) + ")",
                 number(c.max_noise_level));
  if (!(std::isfinite(c.rho) && c.rho > 0))
    problems.add(source, field("rho"), "a finite number > 0", number(c.rho));
  if (!(std::isfinite(c.stochastic_churn_rate) && c.stochastic_churn_rate >= 0))
    problems.add(source, field("stochastic_churn_rate"), "a finite number >= 0",
                 number(c.stochastic_churn_rate), "0 turns churn off");
  // churn_max may be +inf (the official default); NaN bounds would silently
  // disable churn, so they are rejected.
  if (std::isnan(c.churn_min_noise_level) || std::isnan(c.churn_max_noise_level) ||
      c.churn_min_noise_level > c.churn_max_noise_level)
    problems.add(source, field("churn_min_noise_level"),
                 "a number <= churn_max_noise_level (" + number(c.churn_max_noise_level) + ")",
                 number(c.churn_min_noise_level));
  if (!(std::isfinite(c.noise_level_inflation_factor) && c.noise_level_inflation_factor > 0))
    problems.add(source, field("noise_level_inflation_factor"), "a finite number > 0",
                 number(c.noise_level_inflation_factor), "the official models use 1.05");
  problems.throw_if_any();
}

}  // namespace

SamplerSchedule make_schedule(const SamplerConfig& config, const std::string& source) {
  validate(config, source);
  const auto n = static_cast<int>(config.num_noise_levels);
  const double inv_rho = 1.0 / config.rho;
  const double lo = std::pow(config.min_noise_level, inv_rho);
  const double hi = std::pow(config.max_noise_level, inv_rho);

  // Quantiles 1 down to 0 as numpy.linspace(1, 0, n) computes them
  // (i * step + start, last point set to the end exactly), so the double
  // levels match the reference's before the float cast.
  std::vector<double> levels(static_cast<size_t>(n) + 1, 0.0);
  const double step = n > 1 ? -1.0 / (n - 1) : 0.0;
  for (int i = 0; i < n; ++i) {
    const double q = (n > 1 && i == n - 1) ? 0.0 : i * step + 1.0;
    levels[i] = std::pow(lo + q * (hi - lo), config.rho);
  }

  // Clamped so that churn never more than doubles the variance, however few
  // levels are used (EDM paper).
  const double rate = std::min(config.stochastic_churn_rate / n, std::sqrt(2.0) - 1.0);
  SamplerSchedule s;
  s.sigmas.resize(levels.size());
  s.churn.resize(static_cast<size_t>(n));
  for (size_t i = 0; i < levels.size(); ++i) s.sigmas[i] = static_cast<float>(levels[i]);
  for (int i = 0; i < n; ++i) {
    // The window test uses the double levels, as the reference does before casting.
    const bool in_window = config.churn_min_noise_level <= levels[i] &&
                           levels[i] <= config.churn_max_noise_level;
    s.churn[i] = in_window ? static_cast<float>(rate) : 0.f;
  }
  return s;
}

int denoiser_calls_per_step(const SamplerSchedule& schedule) {
  int calls = 0;
  for (int i = 0; i < schedule.steps(); ++i) calls += schedule.sigmas[i + 1] == 0.f ? 1 : 2;
  return calls;
}

}  // namespace gencast
