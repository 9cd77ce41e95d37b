// Counter-based random numbers for the sampler noise: Philox4x32-10
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) and
// Box-Muller normal variates built on it.
//
// Header-only and usable from host C++ and CUDA device code alike, so that the
// CPU and GPU backends draw bit-identical 32-bit words for the same key and
// counter. The normal variates go through libm (double log/cos/sqrt), which
// host and device implement separately; after rounding to float they matched
// bit for bit on 16.7M draws (glibc x86-64 vs CUDA 13 on an H100).
//
// Invariants:
//  * philox4x32_10 is the standard generator: multipliers 0xD2511F53 /
//    0xCD9E8D57, Weyl key increments 0x9E3779B9 / 0xBB67AE85, 10 rounds; it
//    reproduces the Random123 known-answer vectors (tests/unit/test_noise_philox.cpp).
//  * A noise coefficient is a pure function of (seed, coefficient index,
//    channel, draw, member): no state, no sequence position, so any subset or
//    batching of fields gives the same numbers.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GENCAST_HD __host__ __device__
#else
#define GENCAST_HD
#endif

namespace gencast {

struct Philox4x32 {
  uint32_t v[4];
};

namespace philox_detail {
constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;
constexpr uint32_t kWeyl1 = 0xBB67AE85u;

GENCAST_HD inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
  // 32x32 -> 64-bit products; a plain 64-bit multiply is exact on both host
  // and device, so no __umulhi is needed for identical results.
  const uint64_t p0 = static_cast<uint64_t>(kMul0) * c[0];
  const uint64_t p1 = static_cast<uint64_t>(kMul1) * c[2];
  const auto hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const auto hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  const uint32_t n0 = hi1 ^ c[1] ^ k[0];
  const uint32_t n2 = hi0 ^ c[3] ^ k[1];
  c[0] = n0;
  c[1] = lo1;
  c[2] = n2;
  c[3] = lo0;
}
}  // namespace philox_detail

// The raw bijection: 4-word counter, 2-word key -> 4 random words.
GENCAST_HD inline Philox4x32 philox4x32_10(const uint32_t counter[4], const uint32_t key[2]) {
  uint32_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
  uint32_t k[2] = {key[0], key[1]};
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {  // the key schedule advances between rounds, not before the first
      k[0] += philox_detail::kWeyl0;
      k[1] += philox_detail::kWeyl1;
    }
    philox_detail::philox_round(c, k);
  }
  return Philox4x32{{c[0], c[1], c[2], c[3]}};
}

// Uniforms from the top 24 bits of a word. k * 2^-24 with k < 2^24 is exactly
// representable in float (24-bit significand), so the conversion involves no
// rounding and is the same on every platform and compiler.
GENCAST_HD inline float philox_uniform_closed_open(uint32_t bits) {  // [0, 1)
  return static_cast<float>(bits >> 8) * 5.9604644775390625e-08f;    // 2^-24
}
GENCAST_HD inline float philox_uniform_open_closed(uint32_t bits) {  // (0, 1]
  return static_cast<float>((bits >> 8) + 1u) * 5.9604644775390625e-08f;
}

// One standard normal variate from words 0 and 1 of a Philox output, by the
// Box-Muller transform z = sqrt(-2 ln u1) cos(2 pi u2), u1 in (0, 1] (so the
// logarithm is finite), u2 in [0, 1). Evaluated in double so that host and
// device libm differences (at most an ulp or so in double) almost never
// survive the final rounding to float. |z| <= sqrt(48 ln 2) ~ 5.77: the
// 24-bit uniform truncates the tails beyond that (probability ~8e-9).
GENCAST_HD inline float philox_box_muller(uint32_t w0, uint32_t w1) {
  const double u1 = static_cast<double>(philox_uniform_open_closed(w0));
  const double u2 = static_cast<double>(philox_uniform_closed_open(w1));
  const double two_pi = 6.283185307179586476925286766559;
  return static_cast<float>(::sqrt(-2.0 * ::log(u1)) * ::cos(two_pi * u2));
}

// The noise coefficient for one spherical-harmonic index of one field.
// Key = the 64-bit run seed (low word first); counter = (coefficient index,
// channel, draw, member). Only words 0 and 1 of the output are used: one
// Philox call per coefficient keeps the counter equal to the coefficient
// index, which is what lets any GPU thread compute any coefficient alone.
GENCAST_HD inline float philox_noise_normal(uint64_t seed, uint32_t coefficient,
                                            uint32_t channel, uint32_t draw,
                                            uint32_t member) {
  const uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const uint32_t counter[4] = {coefficient, channel, draw, member};
  const Philox4x32 r = philox4x32_10(counter, key);
  return philox_box_muller(r.v[0], r.v[1]);
}

}  // namespace gencast
