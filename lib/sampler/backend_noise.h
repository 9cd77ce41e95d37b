// Binding a member's noise keys to the backend's sphere_noise op.
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "sampler/noise_draw.h"

namespace gencast {

// A NoiseFn drawing member `member`'s fields for channels [0, channels) through
// the backend: keys (seed, member, draw_id, c). backend and plan must outlive
// the returned function. The function itself holds no mutable state.
NoiseFn make_backend_noise(Backend& backend, const NoisePlan& plan, uint64_t seed,
                           uint32_t member, int64_t channels);

}  // namespace gencast
