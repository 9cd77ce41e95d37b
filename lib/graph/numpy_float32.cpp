// numpy-exact float32 helpers for the graph geometry (see numpy_float32.h).
#include "graph/numpy_float32.h"

#include <cmath>

namespace gencast::numpy_f32 {
namespace {

// Cody-Waite split of -pi/2 into three float32 parts, 2/pi, and the constant
// that rounds a float32 to the nearest integer by adding and subtracting it.
constexpr float kTwoOverPi = 0x1.45f306p-1f;
constexpr float kMinusHalfPiHigh = -0x1.921fb0p+00f;
constexpr float kMinusHalfPiMed = -0x1.5110b4p-22f;
constexpr float kMinusHalfPiLow = -0x1.846988p-48f;
constexpr float kRoundMagic = 0x1.800000p+23f;

// Beyond these magnitudes numpy hands the element to libm.
constexpr float kMaxReducedSin = 117435.992f;
constexpr float kMaxReducedCos = 71476.0625f;

// cos(r) for |r| <= pi/4, from s = r*r (minimax polynomial, Horner with fma).
float cos_poly(float s) {
  float p = std::fma(0x1.98e616p-16f, s, -0x1.6c06dcp-10f);
  p = std::fma(p, s, 0x1.55553cp-05f);
  p = std::fma(p, s, -0x1.000000p-01f);
  return std::fma(p, s, 0x1.000000p+00f);
}

// sin(r) for |r| <= pi/4 (odd polynomial; the last step adds r exactly once).
float sin_poly(float r, float s) {
  float p = std::fma(0x1.7d3bbcp-19f, s, -0x1.a06bbap-13f);
  p = std::fma(p, s, 0x1.11119ap-07f);
  p = std::fma(p, s, -0x1.555556p-03f);
  p = std::fma(p, s, 0.0f);
  return std::fma(p, r, r);
}

// Shared core: reduce x to r in [-pi/4, pi/4] and a quadrant q, then pick the
// polynomial; cosine is sine shifted by one quadrant.
float sin_cos(float x, bool cosine) {
  if (std::isnan(x)) return x;
  const float limit = cosine ? kMaxReducedCos : kMaxReducedSin;
  if (!(std::fabs(x) <= limit)) return cosine ? std::cos(x) : std::sin(x);
  float q = x * kTwoOverPi;
  q = (q + kRoundMagic) - kRoundMagic;
  float r = std::fma(q, kMinusHalfPiHigh, x);
  r = std::fma(q, kMinusHalfPiMed, r);
  r = std::fma(q, kMinusHalfPiLow, r);
  int quadrant = static_cast<int>(q);
  if (cosine) quadrant += 1;
  const float s = r * r;
  float value = (quadrant & 1) ? cos_poly(s) : sin_poly(r, s);
  if (quadrant & 2) value = -value;
  return value;
}

}  // namespace

float sin(float x) { return sin_cos(x, false); }
float cos(float x) { return sin_cos(x, true); }

float deg2rad(float degrees) {
  constexpr float kDegToRad = static_cast<float>(3.14159265358979323846 / 180.0);
  return degrees * kDegToRad;
}

float rad2deg(float radians) {
  // numpy divides in float32: 180.0f / (float)pi, then multiplies.
  constexpr float kPiF = static_cast<float>(3.14159265358979323846);
  constexpr float kRadToDeg = 180.0f / kPiF;
  return radians * kRadToDeg;
}

float mod(float a, float b) {
  float m = std::fmod(a, b);
  if (m != 0.0f) {
    if ((b < 0.0f) != (m < 0.0f)) m += b;
  } else {
    m = std::copysign(0.0f, b);
  }
  return m;
}

float norm3_sdot(const std::array<float, 3>& v) {
  double acc = 0.0;
  for (float c : v) {
    const float square = c * c;  // rounded to float32 before the double sum
    acc += static_cast<double>(square);
  }
  return std::sqrt(static_cast<float>(acc));
}

float norm3_rows(const std::array<float, 3>& v) {
  const float s0 = v[0] * v[0];
  const float s1 = v[1] * v[1];
  const float s2 = v[2] * v[2];
  return std::sqrt((s0 + s1) + s2);
}

std::array<float, 3> lat_lon_to_unit(float lat_deg, float lon_deg) {
  const float phi = deg2rad(lon_deg);
  const float theta = deg2rad(90.0f - lat_deg);
  const float sin_theta = sin(theta);
  return {cos(phi) * sin_theta, sin(phi) * sin_theta, cos(theta)};
}

}  // namespace gencast::numpy_f32
