// Placeholder until the spherical-harmonic synthesis lands.
#include "sampler/sphere_noise.h"

#include "core/error.h"

namespace gencast {
struct SphereNoiseSynth::Impl {
  int64_t n_lat, n_lon;
};
SphereNoiseSynth::SphereNoiseSynth(int64_t n_lat, int64_t n_lon)
    : impl_(std::make_unique<Impl>(Impl{n_lat, n_lon})) {}
SphereNoiseSynth::~SphereNoiseSynth() = default;
SphereNoiseSynth::SphereNoiseSynth(SphereNoiseSynth&&) noexcept = default;
SphereNoiseSynth& SphereNoiseSynth::operator=(SphereNoiseSynth&&) noexcept = default;
int64_t SphereNoiseSynth::n_lat() const { return impl_->n_lat; }
int64_t SphereNoiseSynth::n_lon() const { return impl_->n_lon; }
void SphereNoiseSynth::sample(std::span<const NoiseKey>, float*) const {
  throw RuntimeFailure("spherical noise: not implemented yet");
}
}  // namespace gencast
