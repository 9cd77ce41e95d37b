// The sampler's noise-level schedule and per-step stochastic-churn rates.
//
// Mirrors the reference (weathernext1_gen samplers_utils): levels are quantiles
// of the rho distribution between min and max, in descending order, with a
// final 0 appended; churn rate min(S_churn / N, sqrt(2) - 1) where
// churn_min <= level <= churn_max, else 0. Both are computed in double and
// then rounded to float, because the reference casts them to float32 and runs
// the sampler arithmetic in float32.
//
// Invariants of a SamplerSchedule made by make_schedule: sigmas.size() == N + 1,
// churn.size() == N, sigmas strictly decreasing, sigmas[N] == 0 and every
// other level > 0, every churn rate in [0, sqrt(2) - 1].
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"

namespace gencast {

struct SamplerSchedule {
  std::vector<float> sigmas;  // N + 1 noise levels, descending, last one 0
  std::vector<float> churn;   // N per-step churn rates (0 = no churn at that step)

  int steps() const { return static_cast<int>(churn.size()); }
};

// Largest num_noise_levels accepted: noise draw ids reserve 11 bits for the
// sampler iteration (see sampler/noise_draw.h).
constexpr int kMaxNoiseLevels = 2047;

// Validates the config (InputError naming `source`, e.g. the checkpoint path,
// and the sampler_config field) and computes the schedule.
SamplerSchedule make_schedule(const SamplerConfig& config, const std::string& source = {});

// Denoiser evaluations in one 12 h step: two per iteration, one for the final
// iteration (whose second evaluation, at sigma 0, the reference discards).
int denoiser_calls_per_step(const SamplerSchedule& schedule);

}  // namespace gencast
