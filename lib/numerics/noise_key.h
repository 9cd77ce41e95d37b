// The name of one noise field: member k's noise depends only on
// (seed, member, draw, channel), never on which device or batch computed it.
// Both backends and the CPU synthesis (numerics/sphere_noise_synth.h) take it.
#pragma once

#include <cstdint>

namespace gencast {

struct NoiseKey {
  uint64_t seed = 0;
  uint32_t member = 0;
  uint32_t draw = 0;     // which draw of the run (step and call folded in)
  uint32_t channel = 0;  // output channel the field fills
};

}  // namespace gencast
