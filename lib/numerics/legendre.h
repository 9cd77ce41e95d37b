// Fully normalised associated Legendre functions for spherical-harmonic
// synthesis: Pbar_l^m(x) for 0 <= m <= l < L, with unit L2 norm on [-1, 1]
// (integral of Pbar^2 over x is 1) and no Condon-Shortley phase.
//
// Values come from the standard stable three-term recurrence in l at fixed m,
// in double, started from the closed form of Pbar_m^m evaluated in log space.
// Columns m whose every value is provably below kNegligible are skipped and
// written as exact zeros: near the poles Pbar_m^m ~ s^m underflows for large
// m, and the bound max_l |Pbar_l^m / Pbar_m^m| <= sqrt((2l+1)/(2m+1) C(l+m, 2m))
// (from |d^m P_l / dx^m| <= its value at x = 1) shows such columns cannot
// recover. Every column that is computed therefore starts from a normal
// (non-denormal) double; the constructor checks that this holds for the
// requested L (true up to L of about 1280, i.e. grids down to ~0.14 degrees;
// GenCast runs at 1 and 0.25 degrees).
//
// Layout: triangular, m-major: index(m, l) = offset(m) + (l - m).
#pragma once

#include <cstdint>
#include <vector>

namespace gencast {

class LegendreTable {
 public:
  static constexpr double kNegligible = 1e-40;

  // L >= 1; throws std::invalid_argument where the start values could leave
  // the normal double range (L above about 1280).
  explicit LegendreTable(int64_t degrees);

  int64_t degrees() const { return degrees_; }
  int64_t size() const { return degrees_ * (degrees_ + 1) / 2; }
  int64_t offset(int64_t m) const { return m * degrees_ - m * (m - 1) / 2; }
  int64_t index(int64_t m, int64_t l) const { return offset(m) + (l - m); }

  // Writes Pbar_l^m(x) for every (m, l) into out[size()] and, per m, whether
  // the column holds anything but zeros into nonzero[degrees()].
  // s must be sqrt(1 - x^2), passed separately so that callers can make it
  // exactly 0 at the poles.
  void evaluate(double x, double s, double* out, uint8_t* nonzero) const;

 private:
  int64_t degrees_;
  std::vector<double> a_, b_;            // recurrence coefficients, triangular layout
  std::vector<double> log_diag_;         // log Pbar_m^m(x) - m log s
  std::vector<double> log_growth_bound_; // log max_l |Pbar_l^m / Pbar_m^m|, bound
};

}  // namespace gencast
