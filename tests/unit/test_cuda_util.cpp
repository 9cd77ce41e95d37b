// Helpers shared by the CUDA tests; see test_cuda_util.h.
#include "test_cuda_util.h"
#include "devices/device_factory.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <iostream>
#include <random>

namespace gencast::test {

bool cuda_available() {
  static const bool available = [] {
    try {
      make_backend("cuda:0", Precision::fp32);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }();
  return available;
}

void print_cuda_skip() { std::cout << "GENCAST_SKIP: no CUDA device" << std::endl; }

ArrayF random_array(const Shape& shape, uint32_t seed, float lo, float hi) {
  ArrayF a(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (auto& v : a.data) v = dist(rng);
  return a;
}

double relative_l2(const std::vector<float>& got, const std::vector<float>& ref) {
  if (got.size() != ref.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i]) || !std::isfinite(ref[i])) return INFINITY;
    const double d = double{got[i]} - double{ref[i]};
    num += d * d;
    den += double{ref[i]} * double{ref[i]};
  }
  if (den == 0) return num == 0 ? 0 : INFINITY;
  return std::sqrt(num / den);
}

double relative_l2(const ArrayF& got, const ArrayF& ref) {
  if (got.shape != ref.shape) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.data.size(); ++i) {
    if (!std::isfinite(got.data[i])) return INFINITY;
    const double d = double(got.data[i]) - double(ref.data[i]);
    num += d * d;
    den += double(ref.data[i]) * double(ref.data[i]);
  }
  if (den == 0) return num == 0 ? 0 : INFINITY;
  return std::sqrt(num / den);
}

void check_close(const std::string& label, const ArrayF& got, const ArrayF& ref, double tol) {
  INFO(label);
  REQUIRE(got.shape == ref.shape);
  int64_t non_finite = 0, first_bad = -1;
  for (size_t i = 0; i < got.data.size(); ++i)
    if (!std::isfinite(got.data[i])) {
      if (first_bad < 0) first_bad = static_cast<int64_t>(i);
      ++non_finite;
    }
  INFO("non-finite values: " << non_finite << " (first at flat index " << first_bad << ")");
  REQUIRE(non_finite == 0);
  for (float v : ref.data) REQUIRE(std::isfinite(v));  // a broken reference must not pass
  const double err = relative_l2(got, ref);
  std::cout << "  " << label << ": rel L2 " << err << " = " << err / tol << " of tol " << tol
            << "\n";
  INFO("relative L2 error " << err << " (" << err / tol << " of the tolerance " << tol << ")");
  CHECK(err <= tol);
}

float round_to_bf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u) {  // Inf/NaN: keep (quiet NaNs)
    bits &= 0xffff0000u;
  } else {
    bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest, ties to even
    bits &= 0xffff0000u;
  }
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

}  // namespace gencast::test
