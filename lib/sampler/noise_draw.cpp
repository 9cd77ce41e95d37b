// Noise draw ids; see noise_draw.h for the bit layout.
#include "sampler/noise_draw.h"

#include <stdexcept>
#include <string>

namespace gencast {

uint32_t noise_draw_id(int rollout_step, int kind, int sampler_iter) {
  constexpr int kMaxStep = 1 << 20, kMaxIter = 1 << 11;
  const bool kind_ok = kind == kNoiseDrawInitial || kind == kNoiseDrawChurn;
  if (rollout_step < 0 || rollout_step >= kMaxStep || !kind_ok || sampler_iter < 0 ||
      sampler_iter >= kMaxIter)
    throw std::out_of_range("noise_draw_id: (rollout_step " + std::to_string(rollout_step) +
                            ", kind " + std::to_string(kind) + ", iteration " +
                            std::to_string(sampler_iter) + ") outside the id space");
  return static_cast<uint32_t>(rollout_step) << 12 | static_cast<uint32_t>(kind) << 11 |
         static_cast<uint32_t>(sampler_iter);
}

}  // namespace gencast
