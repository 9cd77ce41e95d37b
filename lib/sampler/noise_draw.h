// Numbering of the sampler's noise draws, and the noise-source callback.
//
// Every noise field of a run is named by a NoiseKey (backend/backend.h):
// (seed, member, draw, channel). The draw id folds in where in the run the
// field is used:
//
//   draw = rollout_step << 12 | kind << 11 | sampler_iter
//
// with kind 0 = initial noise (sampler_iter 0), kind 1 = stochastic-churn
// noise of sampler iteration sampler_iter. So member k's noise depends only on
// (seed, k, rollout step, kind, iteration, channel) -- never on the ensemble
// size, on which members run together or on how channels are batched.
//
// Invariants: 0 <= rollout_step < 2^20 (about 1400 years of 12 h steps),
// kind in {0, 1}, 0 <= sampler_iter < 2^11; distinct arguments give distinct ids.
#pragma once

#include <cstdint>
#include <functional>

#include "backend/tensor.h"

namespace gencast {

enum NoiseDrawKind : int { kNoiseDrawInitial = 0, kNoiseDrawChurn = 1 };

// Throws std::out_of_range outside the ranges above.
uint32_t noise_draw_id(int rollout_step, int kind, int sampler_iter);

// Fills `out` ([n_grid, channels]) with the unit-variance noise fields of one
// ensemble member for draw `draw_id`, one field per channel.
using NoiseFn = std::function<void(uint32_t draw_id, Tensor& out)>;

}  // namespace gencast
