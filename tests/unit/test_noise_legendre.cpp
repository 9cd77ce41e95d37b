// Normalised associated Legendre functions used by the noise synthesis.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <vector>

#include "numerics/legendre.h"

using namespace gencast;

namespace {

struct Eval {
  std::vector<double> p;
  std::vector<uint8_t> nonzero;
};

Eval evaluate(const LegendreTable& t, double x) {
  Eval e{std::vector<double>(static_cast<size_t>(t.size())),
         std::vector<uint8_t>(static_cast<size_t>(t.degrees()))};
  t.evaluate(x, std::sqrt(std::max(0.0, 1 - x * x)), e.p.data(), e.nonzero.data());
  return e;
}

// Gauss-Legendre nodes and weights by Newton iteration on P_n: exact for
// polynomials of degree < 2n, independent of the code under test.
void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w) {
  x.resize(static_cast<size_t>(n));
  w.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    double z = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5));
    double dp = 0;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = z;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = n * (z * p1 - p0) / (z * z - 1);
      const double dz = p1 / dp;
      z -= dz;
      if (std::abs(dz) < 1e-16) break;
    }
    x[i] = z;
    w[i] = 2 / ((1 - z * z) * dp * dp);
  }
}

}  // namespace

TEST_CASE("legendre functions match closed forms", "[noise]") {
  const LegendreTable t(6);
  for (double x : {-1.0, -0.7, -0.2, 0.0, 0.3, 0.9, 1.0}) {
    const double s = std::sqrt(1 - x * x);
    const Eval e = evaluate(t, x);
    auto at = [&](int m, int l) { return e.p[static_cast<size_t>(t.index(m, l))]; };
    // Unit-norm forms: sqrt((2l+1)/2 (l-m)!/(l+m)!) (1-x^2)^(m/2) d^m P_l/dx^m.
    // 1e-12 relative: a handful of double recurrence steps, versus closed forms.
    CHECK(at(0, 0) == Approx(std::sqrt(0.5)).epsilon(1e-12).margin(1e-15));
    CHECK(at(0, 1) == Approx(std::sqrt(1.5) * x).epsilon(1e-12).margin(1e-15));
    CHECK(at(1, 1) == Approx(std::sqrt(0.75) * s).epsilon(1e-12).margin(1e-15));
    CHECK(at(0, 2) == Approx(std::sqrt(2.5) * 0.5 * (3 * x * x - 1)).epsilon(1e-12).margin(1e-14));
    CHECK(at(1, 2) == Approx(std::sqrt(2.5 / 6) * 3 * x * s).epsilon(1e-12).margin(1e-14));
    CHECK(at(2, 2) == Approx(std::sqrt(2.5 / 24) * 3 * s * s).epsilon(1e-12).margin(1e-14));
    CHECK(at(3, 3) == Approx(std::sqrt(3.5 / 720) * 15 * s * s * s).epsilon(1e-12).margin(1e-14));
    CHECK(at(2, 5) == Approx(std::sqrt(5.5 * 6 / 5040) * 52.5 * s * s * x * (3 * x * x - 1))
                          .epsilon(1e-12).margin(1e-13));
  }
}

TEST_CASE("legendre functions are orthonormal on [-1, 1]", "[noise]") {
  // 64-point Gauss-Legendre integrates the products (polynomials of degree
  // <= 2 * 44) exactly; what remains is rounding, far below 1e-12.
  const int L = 45;
  const LegendreTable t(L);
  std::vector<double> xs, ws;
  gauss_legendre(64, xs, ws);
  std::vector<double> gram(static_cast<size_t>(L * L));
  for (int m = 0; m < L; m += 4) {
    std::fill(gram.begin(), gram.end(), 0.0);
    for (size_t q = 0; q < xs.size(); ++q) {
      const Eval e = evaluate(t, xs[q]);
      for (int l1 = m; l1 < L; ++l1)
        for (int l2 = m; l2 < L; ++l2)
          gram[l1 * L + l2] += ws[q] * e.p[t.index(m, l1)] * e.p[t.index(m, l2)];
    }
    for (int l1 = m; l1 < L; ++l1)
      for (int l2 = m; l2 < L; ++l2)
        CHECK(gram[l1 * L + l2] == Approx(l1 == l2 ? 1.0 : 0.0).epsilon(1e-12).margin(1e-12));
  }
}

TEST_CASE("addition theorem holds on the 0.25 degree grid, poles included", "[noise]") {
  // sum over real harmonics of Y_lm^2 = (2l+1)/(4 pi) is equivalent to
  // Pbar_l^0^2 + 2 sum_{m>0} Pbar_l^m^2 = (2l+1)/2. This is the identity that
  // makes the noise's pointwise variance exactly 1 at every latitude; checking
  // it at rows next to the poles also shows that skipping underflowing columns
  // loses nothing (a lost column would be a missing positive term). Relative
  // tolerance 1e-10: accumulated rounding of ~700-step double recurrences.
  const int n_lat = 721, L = 720;
  const LegendreTable t(L);
  std::vector<double> p(static_cast<size_t>(t.size()));
  std::vector<uint8_t> nonzero(static_cast<size_t>(L));
  int skipped = 0;
  for (int j : {0, 1, 2, 3, 5, 10, 40, 100, 200, 300, 359, 360}) {
    const double phi = std::numbers::pi * (static_cast<double>(j) / (n_lat - 1) - 0.5);
    const double x = j == 0 ? -1.0 : std::sin(phi), s = j == 0 ? 0.0 : std::cos(phi);
    t.evaluate(x, s, p.data(), nonzero.data());
    for (int m = 0; m < L; ++m) skipped += nonzero[m] == 0;
    for (int l = 0; l < L; ++l) {
      double sum = p[t.index(0, l)] * p[t.index(0, l)];
      for (int m = 1; m <= l; ++m) sum += 2 * p[t.index(m, l)] * p[t.index(m, l)];
      REQUIRE(std::isfinite(sum));
      CHECK(sum == Approx((2 * l + 1) / 2.0).epsilon(1e-10));
    }
  }
  CHECK(skipped > 0);  // the near-pole rows do exercise the skipping
}
