// Binding a member's noise keys to the backend's sphere_noise op.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "sampler/noise_draw.h"

namespace gencast {

// A NoiseFn drawing member `member`'s fields for channels [0, channels) through
// the backend: keys (seed, member, draw_id, c). backend and plan must outlive
// the returned function. The function itself holds no mutable state.
NoiseFn make_backend_noise(Backend& backend, const NoisePlan& plan, uint64_t seed,
                           uint32_t member, int64_t channels);

// Several members stacked in one tensor ([members.size() * n_grid, channels]):
// rows [b * n_grid, (b+1) * n_grid) get member members[b]'s fields, the same
// fields make_backend_noise gives that member alone.
NoiseFn make_backend_noise(Backend& backend, const NoisePlan& plan, uint64_t seed,
                           const std::vector<uint32_t>& members, int64_t channels,
                           int64_t n_grid);

}  // namespace gencast
