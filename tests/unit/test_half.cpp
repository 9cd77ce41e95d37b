// IEEE half conversions (core/half.h), the storage of the tf32 precision's
// edge-embedding cache: every half converts to a float and back to itself,
// and floats round to the nearest half, ties to even, with the edge cases
// (largest half, overflow, subnormals, signed zero, NaN) as the GPU's
// __float2half_rn gives them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/half.h"

using namespace gencast;

TEST_CASE("half: every half survives the round trip through float", "[half]") {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const float f = half_bits_to_float(bits);
    const bool nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
    INFO("half bits " << h);
    if (nan) {
      REQUIRE(std::isnan(f));
      REQUIRE(std::isnan(half_bits_to_float(float_to_half_bits(f))));
    } else {
      REQUIRE(float_to_half_bits(f) == bits);
    }
  }
}

TEST_CASE("half: floats round to the nearest half, ties to even", "[half]") {
  // Between each pair of adjacent finite positive halves: the midpoint goes
  // to the even one, a hair below to the lower, a hair above to the upper.
  for (uint16_t h = 0; h < 0x7bff; ++h) {
    const float lo = half_bits_to_float(h), hi = half_bits_to_float(static_cast<uint16_t>(h + 1));
    const double mid = (static_cast<double>(lo) + hi) / 2;  // exact in float for these spans
    const auto mid_f = static_cast<float>(mid);
    INFO("between half bits " << h << " and " << h + 1);
    REQUIRE(static_cast<double>(mid_f) == mid);
    REQUIRE(float_to_half_bits(mid_f) == ((h & 1u) ? h + 1 : h));
    REQUIRE(float_to_half_bits(std::nextafter(mid_f, 0.f)) == h);
    REQUIRE(float_to_half_bits(std::nextafter(mid_f, 1e9f)) == h + 1);
    REQUIRE(float_to_half_bits(-mid_f) == (0x8000u | ((h & 1u) ? h + 1 : h)));
  }
  CHECK(float_to_half_bits(1.f) == 0x3c00u);
  CHECK(float_to_half_bits(-2.f) == 0xc000u);
  CHECK(float_to_half_bits(65504.f) == 0x7bffu);               // the largest half
  CHECK(float_to_half_bits(65519.99f) == 0x7bffu);             // below the overflow midpoint
  CHECK(float_to_half_bits(65520.f) == 0x7c00u);               // ties away to Inf (even)
  CHECK(float_to_half_bits(-1e10f) == 0xfc00u);
  CHECK(float_to_half_bits(std::ldexp(1.f, -14)) == 0x0400u);  // the smallest normal
  CHECK(float_to_half_bits(std::ldexp(1.f, -24)) == 0x0001u);  // the smallest subnormal
  CHECK(float_to_half_bits(std::ldexp(1.f, -25)) == 0x0000u);  // a tie: to even (zero)
  CHECK(float_to_half_bits(std::ldexp(3.f, -26)) == 0x0001u);  // 0.75 units: up
  CHECK(float_to_half_bits(-0.f) == 0x8000u);
  CHECK(float_to_half_bits(std::numeric_limits<float>::infinity()) == 0x7c00u);
  CHECK((float_to_half_bits(std::numeric_limits<float>::quiet_NaN()) & 0x7e00u) == 0x7e00u);
}

TEST_CASE("half: fits_half says whether every value converts to a finite half", "[half]") {
  // Exactly the values that float_to_half_bits turns into a finite half.
  const float edge = std::nextafter(65520.f, 0.f);
  for (const float v : {0.f, -0.f, 1e-30f, 1.f, -65504.f, 65519.99f, edge, 65520.f, -65520.f,
                        1e10f, std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::quiet_NaN()}) {
    INFO("value " << v);
    const bool finite_half = (float_to_half_bits(v) & 0x7c00u) != 0x7c00u;
    CHECK(fits_half(std::vector<float>{0.5f, v, -2.f}) == finite_half);
  }
  CHECK(fits_half(std::vector<float>{}));
}
