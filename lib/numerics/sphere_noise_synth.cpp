// CPU synthesis of spherical white noise; the field definition is in
// sphere_noise.h.
//
// Per call, channels are processed in chunks of kChunk: the chunk's
// coefficients z_lm are drawn into [coefficient][channel] arrays, then each
// pair of mirror latitude rows (phi, -phi) is synthesised at once:
//  1. Legendre stage (double): Pbar_l^m(-x) = (-1)^(l+m) Pbar_l^m(x), so the
//     sums over l split into an even part E and an odd part O per m; the
//     southern row gets E + O, the northern E - O.
//  2. Fourier stage (float): direct summation over m with cos/sin tables,
//     again pairing longitudes i and n_lon - i (cos even, sin odd).
// The channel index is always the innermost loop and no reduction runs over
// channels, so a channel's value never depends on the other channels of the
// call (batching-invariant, bit for bit), and parallel_for over row pairs
// never changes the order of any sum (worker-count-invariant).
#include "numerics/sphere_noise_synth.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "numerics/legendre.h"
#include "numerics/philox.h"

namespace gencast {
namespace {

constexpr int64_t kChunk = 32;  // channels per pass: bounds the coefficient buffers

// One normal draw in parallel_min_rows' operations: ten Philox rounds, then
// a logarithm, a square root and a cosine.
constexpr int64_t kNormalWork = 4 * kTranscendentalWork;

// A stride coprime to count near count / golden ratio: i -> i * stride mod
// count is then a permutation of [0, count) whose every run of consecutive
// i spreads evenly over [0, count) (a Kronecker sequence).
int64_t spread_stride(int64_t count) {
  if (count <= 2) return 1;
  auto stride = static_cast<int64_t>(std::llround(0.6180339887498949 * static_cast<double>(count)));
  while (std::gcd(stride, count) != 1) ++stride;
  return stride;
}

}  // namespace

struct SphereNoiseSynth::Impl {
  int64_t n_lat, n_lon, L;
  LegendreTable legendre;
  std::vector<double> row_x, row_s;  // sin and cos of the latitude, southern rows incl. equator
  std::vector<double> scale;         // sqrt(4 pi / (L (2l+1))) * Fourier norm of m, by index(m, l)
  std::vector<float> cos_tab, sin_tab;  // cos/sin(2 pi k / n_lon), k in [0, n_lon)

  Impl(int64_t lat, int64_t lon) : n_lat(lat), n_lon(lon), L(lon / 2), legendre(lon / 2) {
    const double pi = std::numbers::pi;
    const int64_t half = (n_lat + 1) / 2;
    row_x.resize(static_cast<size_t>(half));
    row_s.resize(static_cast<size_t>(half));
    for (int64_t j = 0; j < half; ++j) {
      const double phi = pi * (static_cast<double>(j) / static_cast<double>(n_lat - 1) - 0.5);
      row_x[j] = std::sin(phi);
      row_s[j] = std::cos(phi);
    }
    // Exact values where they matter: the pole (every m > 0 term vanishes, so the
    // pole value is the same at every longitude) and the equator of odd grids.
    row_x[0] = -1.0;
    row_s[0] = 0.0;
    if (n_lat % 2 == 1) {
      row_x[half - 1] = 0.0;
      row_s[half - 1] = 1.0;
    }
    scale.resize(static_cast<size_t>(legendre.size()));
    for (int64_t m = 0; m < L; ++m) {
      const double fourier = m == 0 ? 1.0 / std::sqrt(2 * pi) : 1.0 / std::sqrt(pi);
      for (int64_t l = m; l < L; ++l)
        scale[legendre.index(m, l)] =
            std::sqrt(4 * pi / (static_cast<double>(L) * static_cast<double>(2 * l + 1))) * fourier;
    }
    cos_tab.resize(static_cast<size_t>(n_lon));
    sin_tab.resize(static_cast<size_t>(n_lon));
    for (int64_t k = 0; k < n_lon; ++k) {
      const double angle = 2 * pi * static_cast<double>(k) / static_cast<double>(n_lon);
      cos_tab[k] = static_cast<float>(std::cos(angle));
      sin_tab[k] = static_cast<float>(std::sin(angle));
    }
    // sin(0) and sin(pi) exactly 0: the i = 0 and i = n_lon/2 columns then get
    // no odd part, as they must.
    sin_tab[0] = 0.f;
    sin_tab[n_lon / 2] = 0.f;
  }

  void sample_chunk(std::span<const NoiseKey> keys, float* out, int64_t out_cols,
                    int64_t col0) const;

  // Scratch of synth_row_pair, allocated once per range of row pairs.
  struct RowScratch {
    std::vector<double> p;          // Pbar_l^m of the row, by index(m, l)
    std::vector<uint8_t> nonzero;   // per m
    std::vector<double> acc;        // [even cos | odd cos | even sin | odd sin][c]
    std::vector<float> g;           // Fourier coefficients of the two rows: [row][cos|sin][m][c]
    std::vector<float> e, o;        // even and odd Fourier sums of one longitude pair
    RowScratch(int64_t n_tri, int64_t L, int64_t C)
        : p(static_cast<size_t>(n_tri)),
          nonzero(static_cast<size_t>(L)),
          acc(static_cast<size_t>(4 * C)),
          g(static_cast<size_t>(2 * 2 * L * C)),
          e(static_cast<size_t>(C)),
          o(static_cast<size_t>(C)) {}
  };
  // Synthesises southern row j and its northern mirror (both stages) from
  // the chunk's coefficients into columns [col0, col0 + C) of out.
  void synth_row_pair(int64_t j, const std::vector<float>& zc, const std::vector<float>& zs,
                      int64_t C, RowScratch& scratch, float* out, int64_t out_cols,
                      int64_t col0) const;
};

void SphereNoiseSynth::Impl::sample_chunk(std::span<const NoiseKey> keys, float* out,
                                          int64_t out_cols, int64_t col0) const {
  const auto C = static_cast<int64_t>(keys.size());
  const int64_t n_tri = legendre.size();

  // Coefficients: zc[t][c] = z(l, +m), zs[t][c] = z(l, -m) (0 for m = 0).
  std::vector<float> zc(static_cast<size_t>(n_tri * C)), zs(static_cast<size_t>(n_tri * C));
  auto draw_column = [&](int64_t m) {
    for (int64_t l = m; l < L; ++l) {
      const int64_t t = legendre.index(m, l);
      const auto i_pos = static_cast<uint32_t>(l * l + l + m);
      const auto i_neg = static_cast<uint32_t>(l * l + l - m);
      for (int64_t c = 0; c < C; ++c) {
        const NoiseKey& k = keys[c];
        zc[t * C + c] = philox_noise_normal(k.seed, i_pos, k.channel, k.draw, k.member);
        zs[t * C + c] =
            m == 0 ? 0.f : philox_noise_normal(k.seed, i_neg, k.channel, k.draw, k.member);
      }
    }
  };
  // Column m holds L - m coefficients. Folded into pairs (m, L-1-m) of L + 1
  // coefficients each, contiguous ranges of pairs carry equal work.
  parallel_for(
      (L + 1) / 2,
      [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          draw_column(q);
          if (L - 1 - q != q) draw_column(L - 1 - q);
        }
      },
      parallel_min_rows((L + 1) * 2 * C * kNormalWork));

  // Row pairs (southern row j, its mirror): ~2 L^2 C operations in the
  // Legendre stage, ~4 L^2 C in the Fourier stage -- but not evenly: rows
  // at mid-high latitudes cost up to 2.5x an equatorial one (measured at
  // 1 degree), so contiguous ranges of rows would not balance. Range index i
  // visits row pair (i * stride) mod half instead, which samples every
  // latitude band evenly within any contiguous range of indices. Each pair is
  // computed alone, so the visiting order changes no value.
  const int64_t half = (n_lat + 1) / 2;
  const int64_t stride = spread_stride(half);
  parallel_for(
      half,
      [&](int64_t i0, int64_t i1) {
        RowScratch scratch(n_tri, L, C);
        for (int64_t i = i0; i < i1; ++i)
          synth_row_pair(i * stride % half, zc, zs, C, scratch, out, out_cols, col0);
      },
      parallel_min_rows(6 * L * L * C));
}

void SphereNoiseSynth::Impl::synth_row_pair(int64_t j, const std::vector<float>& zc,
                                            const std::vector<float>& zs, int64_t C,
                                            RowScratch& scratch, float* out, int64_t out_cols,
                                            int64_t col0) const {
  const int64_t half_lon = n_lon / 2;
  std::vector<double>& p = scratch.p;
  std::vector<uint8_t>& nonzero = scratch.nonzero;
  std::vector<double>& acc = scratch.acc;
  std::vector<float>& g = scratch.g;
  std::vector<float>& e = scratch.e;
  std::vector<float>& o = scratch.o;
  const int64_t mirror = n_lat - 1 - j;
  const int rows = mirror == j ? 1 : 2;
  legendre.evaluate(row_x[j], row_s[j], p.data(), nonzero.data());

  // 1. Legendre stage.
  for (int64_t m = 0; m < L; ++m) {
    float* gcs = g.data() + (0 * L + m) * C;  // south cos
    float* gss = g.data() + (1 * L + m) * C;  // south sin
    float* gcn = g.data() + (2 * L + m) * C;  // north cos
    float* gsn = g.data() + (3 * L + m) * C;  // north sin
    if (!nonzero[m]) {
      std::fill(gcs, gcs + C, 0.f);
      std::fill(gss, gss + C, 0.f);
      std::fill(gcn, gcn + C, 0.f);
      std::fill(gsn, gsn + C, 0.f);
      continue;
    }
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t l = m; l < L; ++l) {
      const int64_t t = legendre.index(m, l);
      const double w = p[t] * scale[t];
      const int64_t parity = (l + m) & 1;
      double* ac = acc.data() + parity * C;
      double* as = acc.data() + (2 + parity) * C;
      const float* zct = zc.data() + t * C;
      const float* zst = zs.data() + t * C;
      for (int64_t c = 0; c < C; ++c) {
        ac[c] += w * static_cast<double>(zct[c]);
        as[c] += w * static_cast<double>(zst[c]);
      }
    }
    const double* ce = acc.data();
    const double* co = acc.data() + C;
    const double* se = acc.data() + 2 * C;
    const double* so = acc.data() + 3 * C;
    for (int64_t c = 0; c < C; ++c) {
      gcs[c] = static_cast<float>(ce[c] + co[c]);
      gss[c] = static_cast<float>(se[c] + so[c]);
      gcn[c] = static_cast<float>(ce[c] - co[c]);
      gsn[c] = static_cast<float>(se[c] - so[c]);
    }
  }

  // 2. Fourier stage, for the southern row and (if distinct) its mirror.
  for (int r = 0; r < rows; ++r) {
    const int64_t row = r == 0 ? j : mirror;
    const float* gc = g.data() + (2 * r + 0) * L * C;
    const float* gs = g.data() + (2 * r + 1) * L * C;
    for (int64_t i = 0; i <= half_lon; ++i) {
      std::fill(e.begin(), e.end(), 0.f);
      std::fill(o.begin(), o.end(), 0.f);
      int64_t k = 0;  // (m * i) mod n_lon, advanced without a division
      for (int64_t m = 0; m < L; ++m, k = (k + i >= n_lon) ? k + i - n_lon : k + i) {
        const float cm = cos_tab[k], sm = sin_tab[k];
        const float* gcm = gc + m * C;
        const float* gsm = gs + m * C;
        for (int64_t c = 0; c < C; ++c) {
          e[c] += cm * gcm[c];
          o[c] += sm * gsm[c];
        }
      }
      float* dst = out + (row * n_lon + i) * out_cols + col0;
      for (int64_t c = 0; c < C; ++c) dst[c] = e[c] + o[c];
      if (i > 0 && i < half_lon) {
        float* dst2 = out + (row * n_lon + (n_lon - i)) * out_cols + col0;
        for (int64_t c = 0; c < C; ++c) dst2[c] = e[c] - o[c];
      }
    }
  }
}

SphereNoiseSynth::SphereNoiseSynth(int64_t n_lat, int64_t n_lon) {
  if (n_lat < 2 || n_lon != 2 * (n_lat - 1))
    fail_input("", "lat/lon grid",
               "an equiangular grid with poles: n_lat >= 2 and n_lon = 2 (n_lat - 1)",
               "n_lat " + std::to_string(n_lat) + ", n_lon " + std::to_string(n_lon),
               "GenCast grids are 181 x 360 (1 degree) and 721 x 1440 (0.25 degree)");
  impl_ = std::make_unique<Impl>(n_lat, n_lon);
}
SphereNoiseSynth::~SphereNoiseSynth() = default;
SphereNoiseSynth::SphereNoiseSynth(SphereNoiseSynth&&) noexcept = default;
SphereNoiseSynth& SphereNoiseSynth::operator=(SphereNoiseSynth&&) noexcept = default;
int64_t SphereNoiseSynth::n_lat() const { return impl_->n_lat; }
int64_t SphereNoiseSynth::n_lon() const { return impl_->n_lon; }
int64_t SphereNoiseSynth::degrees() const { return impl_->L; }

void SphereNoiseSynth::sample(std::span<const NoiseKey> keys, float* out) const {
  const auto total = static_cast<int64_t>(keys.size());
  for (int64_t c0 = 0; c0 < total; c0 += kChunk) {
    const int64_t count = std::min(kChunk, total - c0);
    impl_->sample_chunk(keys.subspan(static_cast<size_t>(c0), static_cast<size_t>(count)), out,
                        total, c0);
  }
}

}  // namespace gencast
