// Philox4x32-10, its uniform/normal conversions and the noise draw ids.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>

#include "numerics/philox.h"
#include "sampler/noise_draw.h"

using namespace gencast;

TEST_CASE("philox4x32-10 reproduces the Random123 known-answer vectors", "[noise]") {
  // Random123 tests/kat_vectors, the three "philox4x32 10" lines:
  // counter (4 words), key (2 words) -> expected output (4 words).
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const auto& k : kats) {
    const Philox4x32 r = philox4x32_10(k.ctr, k.key);
    for (int i = 0; i < 4; ++i) CHECK(r.v[i] == k.out[i]);
  }
}

TEST_CASE("uniform conversion is exact and stays inside its interval", "[noise]") {
  const float ulp24 = std::ldexp(1.f, -24);
  CHECK(philox_uniform_closed_open(0u) == 0.f);
  CHECK(philox_uniform_closed_open(0xffffffffu) == 1.f - ulp24);
  CHECK(philox_uniform_open_closed(0u) == ulp24);
  CHECK(philox_uniform_open_closed(0xffffffffu) == 1.f);
  // Exactness: scaling back by 2^24 recovers the integer with no rounding.
  const uint32_t key[2] = {7u, 11u};
  for (uint32_t i = 0; i < 1000; ++i) {
    const uint32_t ctr[4] = {i, 0, 0, 0};
    const uint32_t w = philox4x32_10(ctr, key).v[0];
    CHECK(static_cast<double>(philox_uniform_closed_open(w)) * 16777216.0 ==
          static_cast<double>(w >> 8));
    CHECK(static_cast<double>(philox_uniform_open_closed(w)) * 16777216.0 ==
          static_cast<double>((w >> 8) + 1));
  }
  // The largest possible |z| is finite: u1 = 2^-24 gives sqrt(48 ln 2).
  CHECK(std::isfinite(philox_box_muller(0u, 0u)));
  CHECK(philox_box_muller(0u, 0u) == Approx(std::sqrt(48 * std::log(2.0))).epsilon(1e-6));
}

TEST_CASE("box-muller variates have standard normal moments", "[noise]") {
  // n = 400k variates: the sample mean has standard error 1/sqrt(n) = 0.0016,
  // the variance sqrt(2/n) = 0.0022, the fourth moment sqrt(96/n) = 0.015;
  // tolerances are 5 standard errors.
  const int n = 400000;
  double s1 = 0, s2 = 0, s4 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = philox_noise_normal(42u, static_cast<uint32_t>(i), 3u, 5u, 9u);
    REQUIRE(std::isfinite(z));
    s1 += z;
    s2 += z * z;
    s4 += z * z * z * z;
  }
  const double mean = s1 / n, var = s2 / n - mean * mean, m4 = s4 / n;
  CHECK(std::abs(mean) < 5 * std::sqrt(1.0 / n));
  CHECK(std::abs(var - 1) < 5 * std::sqrt(2.0 / n));
  CHECK(std::abs(m4 - 3) < 5 * std::sqrt(96.0 / n));
}

TEST_CASE("every counter word and both seed words change the variate", "[noise]") {
  const float base = philox_noise_normal(0x0123456789abcdefull, 10, 20, 30, 40);
  CHECK(philox_noise_normal(0x0123456789abcdefull, 10, 20, 30, 40) == base);
  CHECK(philox_noise_normal(0x0123456789abcdeeull, 10, 20, 30, 40) != base);  // low word
  CHECK(philox_noise_normal(0x1123456789abcdefull, 10, 20, 30, 40) != base);  // high word
  CHECK(philox_noise_normal(0x0123456789abcdefull, 11, 20, 30, 40) != base);
  CHECK(philox_noise_normal(0x0123456789abcdefull, 10, 21, 30, 40) != base);
  CHECK(philox_noise_normal(0x0123456789abcdefull, 10, 20, 31, 40) != base);
  CHECK(philox_noise_normal(0x0123456789abcdefull, 10, 20, 30, 41) != base);
}

TEST_CASE("noise draw ids follow the documented layout and never collide", "[noise]") {
  CHECK(noise_draw_id(0, kNoiseDrawInitial, 0) == 0u);
  CHECK(noise_draw_id(0, kNoiseDrawChurn, 3) == (1u << 11 | 3u));
  CHECK(noise_draw_id(5, kNoiseDrawChurn, 19) == (5u << 12 | 1u << 11 | 19u));
  std::set<uint32_t> seen;
  for (int step = 0; step < 40; ++step)
    for (int kind = 0; kind < 2; ++kind)
      for (int it = 0; it < 64; ++it) seen.insert(noise_draw_id(step, kind, it));
  CHECK(seen.size() == 40u * 2u * 64u);
  CHECK(noise_draw_id((1 << 20) - 1, 1, 2047) == 0xffffffffu);
  CHECK_THROWS_AS(noise_draw_id(-1, 0, 0), std::out_of_range);
  CHECK_THROWS_AS(noise_draw_id(1 << 20, 0, 0), std::out_of_range);
  CHECK_THROWS_AS(noise_draw_id(0, 2, 0), std::out_of_range);
  CHECK_THROWS_AS(noise_draw_id(0, 1, 2048), std::out_of_range);
}
