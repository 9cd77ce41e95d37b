// GPU spherical-harmonic noise synthesis (see sphere_noise.cuh for the stages).
#include "sphere_noise.cuh"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"
#include "cuda_backend.cuh"
#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"
#include "mma_ptx.cuh"
#include "numerics/philox.h"

namespace gencast::cuda {
namespace {

constexpr int kRowThreads = 128;      // latitude rows per block of the Legendre stage
constexpr double kNegligible = 1e-40;  // same cut-off as LegendreTable::kNegligible

struct KeyChunk {
  NoiseKey keys[kNoiseChunk];
};

struct LegendreTables {
  const double* rec_a;      // [tri]
  const double* rec_b;      // [tri]
  const double* scale;      // [tri]
  const double* log_diag;   // [L]
  const double* log_bound;  // [L]
  const double* row_x;      // [half_rows]
  const double* row_s;      // [half_rows]
  int64_t n_lat, L, half_rows;
};

__host__ __device__ inline int64_t tri_offset(int64_t m, int64_t L) {
  return m * L - m * (m - 1) / 2;
}

// One block per order m; z[t * kNoiseChunk + c] for t in column m (a fixed
// row stride, so the Legendre stage reads every row with 16-byte loads).
__global__ void noise_coefficients_kernel(KeyChunk chunk, int count, int64_t L,
                                          float* __restrict__ z_cos, float* __restrict__ z_sin) {
  const int64_t m = blockIdx.x;
  const int64_t off = tri_offset(m, L);
  const int64_t items = (L - m) * count;
  for (int64_t idx = threadIdx.x; idx < items; idx += blockDim.x) {
    const int64_t k = idx / count;
    const int c = static_cast<int>(idx - k * count);
    const int64_t l = m + k;
    const NoiseKey key = chunk.keys[c];
    const auto i_pos = static_cast<uint32_t>(l * l + l + m);
    const auto i_neg = static_cast<uint32_t>(l * l + l - m);
    const int64_t t = off + k;
    z_cos[t * kNoiseChunk + c] = philox_noise_normal(key.seed, i_pos, key.channel, key.draw, key.member);
    z_sin[t * kNoiseChunk + c] =
        m == 0 ? 0.f : philox_noise_normal(key.seed, i_neg, key.channel, key.draw, key.member);
  }
}

// The half-spectra are stored frequency-major, spec[(m * count + c) * n_lat +
// row]: the threads of a warp (consecutive rows) then write consecutive
// values. (Row-major spectra made every store a scattered 8-byte write,
// which cost more than the whole Legendre sum.) The FFT reads this layout
// with a stride (fft_plan).
__device__ inline void write_spectrum(float2* spec, int64_t n_lat, int64_t L, int count, int c,
                                      int64_t row, int64_t m, float gc, float gs) {
  // C2R sums X_k e^{+i k lambda} over the full Hermitian spectrum, so
  // X_m = (gc - i gs) / 2 contributes gc cos(m lambda) + gs sin(m lambda).
  spec[(m * count + c) * n_lat + row] =
      m == 0 ? make_float2(gc, 0.f) : make_float2(0.5f * gc, -0.5f * gs);
  // No Nyquist term: degrees stop at L - 1 (rewritten every time: the
  // out-of-place C2R may overwrite its input).
  if (m == 0) spec[(L * count + c) * n_lat + row] = make_float2(0.f, 0.f);
}

// One thread per (order m, southern row j): the thread runs the normalised
// associated Legendre recurrence in l for its own row in double (once, not
// once per channel), and accumulates w = Pbar_l^m(x_j) * scale in float32
// into the even- and odd-degree sums of all kNoiseChunk channels. Even + odd
// gives row j, even - odd its northern mirror (Pbar_l^m(-x) = (-1)^(l+m)
// Pbar_l^m(x)). Grid (L, row blocks).
//
// Why staged: every thread of a block reads the same coefficients and table
// entries (one order m). Read straight from global memory, each degree waited
// for an L2 round trip with few warps per SM to hide it (7 % of the float32
// FMA rate on an H200). Here the block copies kLegendreStage degrees of
// coefficients and tables into shared memory with cp.async, one stage ahead
// of the sums, which read them as broadcasts; the parity of a degree is
// static (two degrees per iteration), and the recurrence is
// p_l = (a x) p_{l-1} - (a b) p_{l-2}: one dependent double FMA per degree
// where a (x p - b q) chained three (the same values to double rounding).
// Measured on an H200: 84 channels at 0.25 degrees 8.6 -> 3.6 ms a draw. The
// compiler's 244 registers (two blocks per SM) beat 168 with spills (3.9 ms).
constexpr int kLegendreStage = 32;  // degrees per shared-memory stage (even: parity stays static)

struct LegendreStage {
  float4 z_cos[kLegendreStage][kNoiseChunk / 4];
  float4 z_sin[kLegendreStage][kNoiseChunk / 4];
  double rec_a[kLegendreStage], rec_b[kLegendreStage], scale[kLegendreStage];
};

__global__ void __launch_bounds__(kRowThreads)
    noise_legendre_kernel(LegendreTables tb, const float* __restrict__ z_cos,
                          const float* __restrict__ z_sin, int count, float2* __restrict__ spec) {
  constexpr int kC = kNoiseChunk;
  constexpr int kZChunks = kC / 4;  // 16-byte chunks per step and table
  __shared__ LegendreStage stages[2];
  const int64_t m = blockIdx.x;
  const int64_t j = blockIdx.y * int64_t{kRowThreads} + threadIdx.x;
  const bool row = j < tb.half_rows;
  const double s = row ? tb.row_s[j] : 0.0;
  const double x = row ? tb.row_x[j] : 0.0;
  const double log_s = s > 0 ? log(s) : -INFINITY;
  const double log_pmm = m == 0 ? tb.log_diag[0] : tb.log_diag[m] + static_cast<double>(m) * log_s;
  // Columns that provably stay below kNegligible are exact zeros, as on the CPU.
  const bool live = row && !(log_pmm + tb.log_bound[m] < log(kNegligible));

  float ce[kC], co[kC], se[kC], so[kC];
#pragma unroll
  for (int c = 0; c < kC; ++c) ce[c] = co[c] = se[c] = so[c] = 0.f;
  const int64_t t0 = tri_offset(m, tb.L), steps = tb.L - m;
  // Copies degrees [base, base + kLegendreStage) of this column into stage `st`.
  const auto issue = [&](int64_t base, int st) {
    const int n = static_cast<int>(std::min<int64_t>(kLegendreStage, steps - base));
    LegendreStage& dst = stages[st];
    for (int i = static_cast<int>(threadIdx.x); i < 2 * n * kZChunks; i += kRowThreads) {
      const int step = i / (2 * kZChunks), part = i % (2 * kZChunks);
      const int64_t t = t0 + base + step;
      if (part < kZChunks)
        ptx::cp_async_16(&dst.z_cos[step][part], z_cos + t * kC + 4 * part, 16);
      else
        ptx::cp_async_16(&dst.z_sin[step][part - kZChunks], z_sin + t * kC + 4 * (part - kZChunks),
                         16);
    }
    for (int i = static_cast<int>(threadIdx.x); i < 3 * n; i += kRowThreads) {
      const int table = i / n, step = i % n;
      const int64_t t = t0 + base + step;
      double* d = table == 0 ? dst.rec_a : table == 1 ? dst.rec_b : dst.scale;
      const double* src = table == 0 ? tb.rec_a : table == 1 ? tb.rec_b : tb.scale;
      ptx::cp_async_8(d + step, src + t);
    }
  };

  // Block-uniform: a block whose rows are all negligible writes zeros only.
  if (__syncthreads_or(live)) {
    double p_prev = live ? exp(log_pmm) : 0.0, p_prev2 = 0.0;
    issue(0, 0);
    ptx::cp_async_commit();
    for (int64_t base = 0, st = 0; base < steps; base += kLegendreStage, st ^= 1) {
      if (base + kLegendreStage < steps) issue(base + kLegendreStage, st ^ 1);
      ptx::cp_async_commit();  // possibly empty: the wait below always leaves one group
      ptx::cp_async_wait<1>();
      __syncthreads();
      const LegendreStage& sg = stages[st];
      const int n = static_cast<int>(std::min<int64_t>(kLegendreStage, steps - base));
      // One degree: the recurrence (k = 0 is Pbar_m^m itself), then the sums.
      const auto degree = [&](int i, float (&acc_c)[kC], float (&acc_s)[kC]) {
        double p = p_prev;
        if (base + i > 0) {
          const double a = sg.rec_a[i];
          p = fma(a * x, p_prev, -(a * sg.rec_b[i]) * p_prev2);
          p_prev2 = p_prev;
          p_prev = p;
        }
        const auto w = static_cast<float>(p * sg.scale[i]);
#pragma unroll
        for (int q = 0; q < kZChunks; ++q) {
          const float4 zc = sg.z_cos[i][q], zs = sg.z_sin[i][q];
          acc_c[4 * q] = fmaf(w, zc.x, acc_c[4 * q]);
          acc_c[4 * q + 1] = fmaf(w, zc.y, acc_c[4 * q + 1]);
          acc_c[4 * q + 2] = fmaf(w, zc.z, acc_c[4 * q + 2]);
          acc_c[4 * q + 3] = fmaf(w, zc.w, acc_c[4 * q + 3]);
          acc_s[4 * q] = fmaf(w, zs.x, acc_s[4 * q]);
          acc_s[4 * q + 1] = fmaf(w, zs.y, acc_s[4 * q + 1]);
          acc_s[4 * q + 2] = fmaf(w, zs.z, acc_s[4 * q + 2]);
          acc_s[4 * q + 3] = fmaf(w, zs.w, acc_s[4 * q + 3]);
        }
      };
      if (live) {
        // base is even, so the parity of l + m (that of the degree index) is
        // that of i: even degrees into ce/se, odd into co/so.
#pragma unroll 1
        for (int i = 0; i < n; i += 2) {
          degree(i, ce, se);
          if (i + 1 < n) degree(i + 1, co, so);
        }
      }
      __syncthreads();  // the stage is read before the next iteration refills it
    }
    ptx::cp_async_wait<0>();
  }
  if (!row) return;
  const int64_t north = tb.n_lat - 1 - j;
#pragma unroll
  for (int c = 0; c < kC; ++c) {
    if (c >= count) break;
    write_spectrum(spec, tb.n_lat, tb.L, count, c, j, m, ce[c] + co[c], se[c] + so[c]);
    if (north != j)
      write_spectrum(spec, tb.n_lat, tb.L, count, c, north, m, ce[c] - co[c], se[c] - so[c]);
  }
}

// fields [c][row][n_lon] -> out[(row * n_lon + lon) * out_cols + col0 + c].
template <class TO>
__global__ void noise_scatter_kernel(const float* __restrict__ fields, int count, int64_t n_lat,
                                     int64_t n_lon, TO* __restrict__ out, int64_t out_cols,
                                     int64_t col0) {
  __shared__ float tile[32][33];  // +1: column reads without bank conflicts
  const int64_t points = n_lat * n_lon;
  const int64_t p0 = blockIdx.x * int64_t{32};
  for (int c = threadIdx.y; c < 32; c += blockDim.y) {
    const int64_t p = p0 + threadIdx.x;
    if (c < count && p < points) {
      const int64_t row = p / n_lon, lon = p - row * n_lon;
      tile[c][threadIdx.x] = fields[(int64_t{c} * n_lat + row) * n_lon + lon];
    }
  }
  __syncthreads();
  for (int py = threadIdx.y; py < 32; py += blockDim.y) {
    const int64_t p = p0 + py;
    const int c = threadIdx.x;
    if (c < count && p < points) out[p * out_cols + col0 + c] = from_f32<TO>(tile[c][py]);
  }
}

// Host tables, same formulas as lib/sampler/legendre.cpp and sphere_noise.cpp.
struct HostTables {
  std::vector<double> rec_a, rec_b, scale, log_diag, log_bound, row_x, row_s;
};

HostTables make_host_tables(int64_t n_lat, int64_t L) {
  const double pi = std::numbers::pi;
  const int64_t tri = L * (L + 1) / 2;
  HostTables h;
  h.rec_a.assign(static_cast<size_t>(tri), 0.0);
  h.rec_b.assign(static_cast<size_t>(tri), 0.0);
  h.scale.assign(static_cast<size_t>(tri), 0.0);
  h.log_diag.assign(static_cast<size_t>(L), 0.0);
  h.log_bound.assign(static_cast<size_t>(L), 0.0);
  const auto lmax = static_cast<double>(L - 1);
  for (int64_t m = 0; m < L; ++m) {
    const auto md = static_cast<double>(m);
    const int64_t off = tri_offset(m, L);
    const double fourier = m == 0 ? 1.0 / std::sqrt(2 * pi) : 1.0 / std::sqrt(pi);
    for (int64_t l = m; l < L; ++l) {
      const auto ld = static_cast<double>(l);
      const auto t = static_cast<size_t>(off + l - m);
      if (l > m) {
        const double lm1 = ld - 1;
        h.rec_a[t] = std::sqrt((4 * ld * ld - 1) / (ld * ld - md * md));
        h.rec_b[t] = std::sqrt((lm1 * lm1 - md * md) / (4 * lm1 * lm1 - 1));
      }
      h.scale[t] = std::sqrt(4 * pi / (static_cast<double>(L) * (2 * ld + 1))) * fourier;
    }
    h.log_diag[m] = m == 0 ? -0.5 * std::log(2.0)
                           : h.log_diag[m - 1] + 0.5 * std::log((2 * md + 1) / (2 * md));
    h.log_bound[m] = 0.5 * std::log((2 * lmax + 1) / (2 * md + 1)) +
                     0.5 * (std::lgamma(lmax + md + 1) - std::lgamma(lmax - md + 1) -
                            std::lgamma(2 * md + 1));
    if (std::log(kNegligible) - h.log_bound[m] <
        std::log(std::numeric_limits<double>::min()) + 16 * std::log(2.0))
      throw std::invalid_argument("sphere noise: " + std::to_string(L) +
                                  " degrees exceed the double range of the Legendre recurrence");
  }
  const int64_t half = (n_lat + 1) / 2;
  h.row_x.resize(static_cast<size_t>(half));
  h.row_s.resize(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) {
    const double phi = pi * (static_cast<double>(j) / static_cast<double>(n_lat - 1) - 0.5);
    h.row_x[j] = std::sin(phi);
    h.row_s[j] = std::cos(phi);
  }
  h.row_x[0] = -1.0;  // the pole exactly: every m > 0 column vanishes there
  h.row_s[0] = 0.0;
  if (n_lat % 2 == 1) {  // the equator exactly
    h.row_x[half - 1] = 0.0;
    h.row_s[half - 1] = 1.0;
  }
  return h;
}

}  // namespace

CudaNoisePlan::CudaNoisePlan(Backend& backend, int64_t n_lat, int64_t n_lon)
    : owner_(&backend), n_lat_(n_lat), n_lon_(n_lon) {
  if (n_lat < 2 || n_lon != 2 * (n_lat - 1))
    fail_input("", "lat/lon grid",
               "an equiangular grid with poles: n_lat >= 2 and n_lon = 2 (n_lat - 1)",
               "n_lat " + std::to_string(n_lat) + ", n_lon " + std::to_string(n_lon),
               "GenCast grids are 181 x 360 (1 degree) and 721 x 1440 (0.25 degree)");
  auto& cb = dynamic_cast<CudaBackend&>(backend);
  // Every tensor below is sized by noise_plan_sizes, which the memory plan
  // also reads (backend/plan_sizes.h).
  const NoisePlanSizes sizes = noise_plan_sizes(n_lat, n_lon);
  L_ = sizes.degrees;
  half_rows_ = sizes.half_rows;
  tri_ = sizes.pairs;
  const HostTables h = make_host_tables(n_lat, L_);

  // Doubles live in i32 tensors of twice the length: Tensor has no f64 type,
  // and going through the backend keeps them in its memory accounting.
  const auto upload_doubles = [&](const std::vector<double>& v) {
    Tensor t = backend.empty({static_cast<int64_t>(2 * v.size())}, DType::i32);
    CUDA_CHECK(cudaMemcpyAsync(t.data(), v.data(), v.size() * sizeof(double),
                               cudaMemcpyHostToDevice, cb.stream()));
    return t;
  };
  rec_a_ = upload_doubles(h.rec_a);
  rec_b_ = upload_doubles(h.rec_b);
  scale_ = upload_doubles(h.scale);
  log_diag_ = upload_doubles(h.log_diag);
  log_bound_ = upload_doubles(h.log_bound);
  row_x_ = upload_doubles(h.row_x);
  row_s_ = upload_doubles(h.row_s);
  z_cos_ = backend.empty({sizes.coefficients}, DType::f32);
  z_sin_ = backend.empty({sizes.coefficients}, DType::f32);
  spectra_ = backend.empty({sizes.spectra}, DType::f32);
  fields_ = backend.empty({sizes.fields}, DType::f32);
  const size_t doubles = h.rec_a.size() + h.rec_b.size() + h.scale.size() + h.log_diag.size() +
                         h.log_bound.size() + h.row_x.size() + h.row_s.size();
  if (static_cast<int64_t>(doubles) != sizes.doubles())
    throw std::logic_error("cuda noise plan: " + std::to_string(doubles) +
                           " table entries, backend/plan_sizes.cpp describes " +
                           std::to_string(sizes.doubles()));
  // The host vectors go out of scope on return: wait for the copies.
  CUDA_CHECK(cudaStreamSynchronize(cb.stream()));
}

CudaNoisePlan::~CudaNoisePlan() {
  for (auto& [batch, plan] : fft_plans_) cufftDestroy(plan);  // no throw from a destructor
}

cufftHandle CudaNoisePlan::fft_plan(int batch, cudaStream_t stream) const {
  auto it = fft_plans_.find(batch);
  if (it != fft_plans_.end()) return it->second;
  cufftHandle plan = 0;
  int n = static_cast<int>(n_lon_);
  // Input: transform b = c * n_lat + row reads frequency m at m * batch + b
  // (write_spectrum's layout); output: rows of n_lon reals, out of place.
  int in_embed = static_cast<int>(L_ + 1);
  int out_embed = n;
  CUFFT_CHECK(cufftPlanMany(&plan, 1, &n, &in_embed, batch, 1, &out_embed, 1, n, CUFFT_C2R,
                            batch));
  const cufftResult set = cufftSetStream(plan, stream);
  if (set != CUFFT_SUCCESS) {
    cufftDestroy(plan);
    CUFFT_CHECK(set);
  }
  fft_plans_.emplace(batch, plan);
  return plan;
}

void CudaNoisePlan::sample(std::span<const NoiseKey> keys, Tensor& out,
                           cudaStream_t stream) const {
  const auto channels = static_cast<int64_t>(keys.size());
  if (out.rows() != n_lat_ * n_lon_ || out.cols() != channels)
    throw std::invalid_argument("cuda backend sphere_noise: out must be [n_lat*n_lon, keys.size()]");
  if (out.dtype() != DType::f32 && out.dtype() != DType::bf16)
    throw std::invalid_argument("cuda backend sphere_noise: out must be f32 or bf16");
  const LegendreTables tb{rec_a_.as<double>(), rec_b_.as<double>(), scale_.as<double>(),
                          log_diag_.as<double>(), log_bound_.as<double>(), row_x_.as<double>(),
                          row_s_.as<double>(), n_lat_, L_, half_rows_};
  auto* z_cos = const_cast<float*>(z_cos_.as<float>());  // scratch, ordered on the stream
  auto* z_sin = const_cast<float*>(z_sin_.as<float>());
  auto* fields = const_cast<float*>(fields_.as<float>());
  const int64_t row_blocks = (half_rows_ + kRowThreads - 1) / kRowThreads;
  const int64_t points = n_lat_ * n_lon_;
  if (row_blocks > 65535 || (points + 31) / 32 > 0x7fffffff || L_ > 0x7fffffff)
    throw std::invalid_argument("cuda backend sphere_noise: grid too large");

  for (int64_t c0 = 0; c0 < channels; c0 += kNoiseChunk) {
    const int count = static_cast<int>(std::min<int64_t>(kNoiseChunk, channels - c0));
    KeyChunk chunk{};
    for (int c = 0; c < count; ++c) chunk.keys[c] = keys[static_cast<size_t>(c0 + c)];
    noise_coefficients_kernel<<<static_cast<unsigned>(L_), 256, 0, stream>>>(chunk, count, L_,
                                                                              z_cos, z_sin);
    CUDA_CHECK(cudaGetLastError());
    auto* spec = reinterpret_cast<float2*>(const_cast<float*>(spectra_.as<float>()));
    noise_legendre_kernel<<<dim3(static_cast<unsigned>(L_), static_cast<unsigned>(row_blocks)),
                            kRowThreads, 0, stream>>>(tb, z_cos, z_sin, count, spec);
    CUDA_CHECK(cudaGetLastError());
    const cufftHandle plan = fft_plan(count * static_cast<int>(n_lat_), stream);
    CUFFT_CHECK(cufftSetStream(plan, stream));
    CUFFT_CHECK(cufftExecC2R(plan, reinterpret_cast<cufftComplex*>(spec),
                             reinterpret_cast<cufftReal*>(fields)));
    const dim3 block(32, 8);
    const auto blocks = static_cast<unsigned>((points + 31) / 32);
    dispatch_float_type(out.dtype(), "sphere_noise", [&](auto ot) {
      using TO = decltype(ot);
      noise_scatter_kernel<TO><<<blocks, block, 0, stream>>>(fields, count, n_lat_, n_lon_,
                                                             out.as<TO>(), channels, c0);
    });
    CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace gencast::cuda
