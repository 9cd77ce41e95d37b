// Isotropic white noise on the sphere (CPU reference).
//
// Each field is a random real spherical-harmonic expansion with a flat angular
// power spectrum, normalised to unit pointwise variance, synthesised on the
// equiangular-with-poles lat/lon grid (lat ascending -90..90, lon 0..360):
// associated Legendre functions over latitude, then an inverse real Fourier
// transform over longitude. The coefficients come from a counter-based
// generator (numerics/philox.h) keyed by NoiseKey, so the same key gives the
// same field on every backend and whatever the batching.
//
// The field for key k at latitude phi, longitude lambda is
//   f = sum_{l < L} sum_{|m| <= l} z_lm sqrt(4 pi / (L (2l + 1))) Y_lm(phi, lambda),
// L = n_lon / 2, z_lm = philox_noise_normal(k.seed, l*l + l + m, k.channel,
// k.draw, k.member), Y_lm real spherical harmonics of unit L2 norm on the
// sphere: Pbar_l^|m|(sin phi) times 1/sqrt(2 pi) (m = 0), cos(m lambda)/sqrt(pi)
// (m > 0) or sin(|m| lambda)/sqrt(pi) (m < 0). The power per degree l is 1/L
// (flat, summing to 1), so by the addition theorem the pointwise variance is
// exactly 1 in expectation everywhere. Fields of different keys are
// independent; each channel's values are computed by the same operations
// whatever the other keys of the call, so batching never changes a value.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "numerics/noise_key.h"

namespace gencast {

class SphereNoiseSynth {
 public:
  // n_lon must equal 2 * (n_lat - 1) (equiangular grid with poles), n_lat >= 2;
  // InputError otherwise. Precomputes the Legendre recurrence and trig tables.
  SphereNoiseSynth(int64_t n_lat, int64_t n_lon);
  ~SphereNoiseSynth();
  SphereNoiseSynth(SphereNoiseSynth&&) noexcept;
  SphereNoiseSynth& operator=(SphereNoiseSynth&&) noexcept;

  int64_t n_lat() const;
  int64_t n_lon() const;
  int64_t degrees() const;  // L = n_lon / 2: total wavenumbers 0 .. L-1
  // out: [n_lat * n_lon, keys.size()] row-major, grid node = ilat * n_lon + ilon.
  void sample(std::span<const NoiseKey> keys, float* out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gencast
