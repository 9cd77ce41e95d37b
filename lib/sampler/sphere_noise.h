// Isotropic white noise on the sphere (CPU reference).
//
// Each field is a random real spherical-harmonic expansion with a flat angular
// power spectrum, normalised to unit pointwise variance, synthesised on the
// equiangular-with-poles lat/lon grid (lat ascending -90..90, lon 0..360):
// associated Legendre functions over latitude, then an inverse real Fourier
// transform over longitude. The coefficients come from a counter-based
// generator (sampler/philox.h) keyed by NoiseKey, so the same key gives the
// same field on every backend and whatever the batching.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "backend/backend.h"

namespace gencast {

class SphereNoiseSynth {
 public:
  // n_lon must equal 2 * (n_lat - 1) (equiangular grid with poles).
  SphereNoiseSynth(int64_t n_lat, int64_t n_lon);
  ~SphereNoiseSynth();
  SphereNoiseSynth(SphereNoiseSynth&&) noexcept;
  SphereNoiseSynth& operator=(SphereNoiseSynth&&) noexcept;

  int64_t n_lat() const;
  int64_t n_lon() const;
  // out: [n_lat * n_lon, keys.size()] row-major, grid node = ilat * n_lon + ilon.
  void sample(std::span<const NoiseKey> keys, float* out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gencast
