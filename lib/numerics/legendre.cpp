// Normalised associated Legendre functions; see legendre.h for the method.
#include "numerics/legendre.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace gencast {

LegendreTable::LegendreTable(int64_t degrees) : degrees_(degrees) {
  if (degrees < 1)
    throw std::invalid_argument("LegendreTable: degrees must be >= 1, got " +
                                std::to_string(degrees));
  const int64_t L = degrees;
  a_.assign(static_cast<size_t>(size()), 0.0);
  b_.assign(static_cast<size_t>(size()), 0.0);
  log_diag_.assign(static_cast<size_t>(L), 0.0);
  log_growth_bound_.assign(static_cast<size_t>(L), 0.0);
  for (int64_t m = 0; m < L; ++m) {
    const auto md = static_cast<double>(m);
    for (int64_t l = m + 1; l < L; ++l) {
      const auto ld = static_cast<double>(l);
      const double lm1 = ld - 1;
      a_[index(m, l)] = std::sqrt((4 * ld * ld - 1) / (ld * ld - md * md));
      // b vanishes at l = m + 1, where the recurrence reduces to
      // Pbar_{m+1}^m = sqrt(2m + 3) x Pbar_m^m.
      b_[index(m, l)] = std::sqrt((lm1 * lm1 - md * md) / (4 * lm1 * lm1 - 1));
    }
    // Pbar_0^0 = 1/sqrt(2); Pbar_m^m = sqrt((2m+1)/(2m)) s Pbar_{m-1}^{m-1}.
    log_diag_[m] = m == 0 ? -0.5 * std::log(2.0)
                          : log_diag_[m - 1] + 0.5 * std::log((2 * md + 1) / (2 * md));
    // Bound at the largest l = L - 1 (it increases with l).
    const auto lmax = static_cast<double>(L - 1);
    log_growth_bound_[m] =
        0.5 * std::log((2 * lmax + 1) / (2 * md + 1)) +
        0.5 * (std::lgamma(lmax + md + 1) - std::lgamma(lmax - md + 1) - std::lgamma(2 * md + 1));
    // A computed column starts at Pbar_m^m >= kNegligible / bound; keep that a
    // normal double (with a factor 2^16 to spare) so no denormal arithmetic occurs.
    if (std::log(kNegligible) - log_growth_bound_[m] <
        std::log(std::numeric_limits<double>::min()) + 16 * std::log(2.0))
      throw std::invalid_argument("LegendreTable: " + std::to_string(degrees) +
                                  " degrees exceed the double range of the recurrence");
  }
}

void LegendreTable::evaluate(double x, double s, double* out, uint8_t* nonzero) const {
  const int64_t L = degrees_;
  const double log_s = s > 0 ? std::log(s) : -INFINITY;
  const double log_negligible = std::log(kNegligible);
  for (int64_t m = 0; m < L; ++m) {
    double* col = out + offset(m);
    const int64_t len = L - m;
    const double log_pmm = m == 0 ? log_diag_[0] : log_diag_[m] + static_cast<double>(m) * log_s;
    if (log_pmm + log_growth_bound_[m] < log_negligible) {
      for (int64_t k = 0; k < len; ++k) col[k] = 0.0;
      nonzero[m] = 0;
      continue;
    }
    nonzero[m] = 1;
    const double* a = a_.data() + offset(m);
    const double* b = b_.data() + offset(m);
    double prev2 = 0.0, prev = std::exp(log_pmm);
    col[0] = prev;
    for (int64_t k = 1; k < len; ++k) {
      const double cur = a[k] * (x * prev - b[k] * prev2);
      col[k] = cur;
      prev2 = prev;
      prev = cur;
    }
  }
}

}  // namespace gencast
