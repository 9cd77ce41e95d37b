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

NoiseFn make_backend_noise(Backend& backend, const NoisePlan& plan, uint64_t seed,
                           const std::vector<uint32_t>& members, int64_t channels,
                           int64_t n_grid) {
  std::vector<NoiseFn> each;
  for (uint32_t m : members) each.push_back(make_backend_noise(backend, plan, seed, m, channels));
  return [each = std::move(each), n_grid](uint32_t draw_id, Tensor& out) {
    for (size_t b = 0; b < each.size(); ++b) {
      Tensor rows = out.rows(static_cast<int64_t>(b) * n_grid, n_grid);
      each[b](draw_id, rows);
    }
  };
}

}  // namespace gencast
