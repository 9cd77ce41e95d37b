// IEEE binary16 ("half") conversions on the host, for the storage-only f16
// tensors of the CPU backend (core/dtype.h). Round to nearest even, as the
// GPU's __float2half_rn: overflow gives +-Inf, tiny values become half
// subnormals (units of 2^-24) or zero, NaN stays NaN (quiet).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace gencast {

inline uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t mag = x & 0x7fffffffu;
  if (mag >= 0x7f800000u) return sign | (mag > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN, Inf
  if (mag >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds past 65504: Inf
  if (mag < 0x38800000u) {                        // below 2^-14: a subnormal half or zero
    float a;
    std::memcpy(&a, &mag, sizeof a);
    // a * 2^24 is exact; nearbyint rounds to nearest even (the default
    // mode); 1024 is the smallest normal half, whose bits are 0x400 too.
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.f));
  }
  // Rebias the exponent (127 -> 15) and drop 13 mantissa bits, to nearest
  // even; a carry into the exponent is the right result (up to 65504).
  uint32_t h = (mag - 0x38000000u) >> 13;
  const uint32_t rest = mag & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return sign | static_cast<uint16_t>(h);
}

// Whether every value converts to a finite half (|x| < 65520 rounds to at
// most 65504); NaN does not.
template <class Range>
bool fits_half(const Range& values) {
  for (const float x : values)
    if (!(std::fabs(x) < 65520.f)) return false;
  return true;
}

inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  uint32_t x;
  if (exponent == 0x1fu) {
    x = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24, exact in float
    const float v = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    std::memcpy(&x, &v, sizeof x);
    x |= sign;
  } else {
    x = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

}  // namespace gencast
