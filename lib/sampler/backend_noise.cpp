// make_backend_noise: binds a member's noise keys to the backend's sphere_noise.
#include <stdexcept>
#include <vector>

#include "sampler/backend_noise.h"

namespace gencast {

NoiseFn make_backend_noise(Backend& backend, const NoisePlan& plan, uint64_t seed,
                           uint32_t member, int64_t channels) {
  if (channels < 1 || channels > int64_t{UINT32_MAX})
    throw std::invalid_argument("make_backend_noise: channels must be in [1, 2^32)");
  return [&backend, &plan, seed, member, channels](uint32_t draw_id, Tensor& out) {
    // Keys are rebuilt per call (84 of them: negligible) so the function has no
    // mutable state.
    std::vector<NoiseKey> keys(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c)
      keys[c] = NoiseKey{seed, member, draw_id, static_cast<uint32_t>(c)};
    backend.sphere_noise(plan, keys, out);
  };
}

}  // namespace gencast
