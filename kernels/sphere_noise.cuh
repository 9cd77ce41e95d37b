// Spherical-harmonic white noise on the GPU: the same fields as the CPU
// reference (lib/sampler/sphere_noise.h defines them) for the same NoiseKeys.
//
// Per call, channels are processed in chunks of up to kNoiseChunk:
//  1. coefficients: z(l, +-m) for every (l, m) and channel of the chunk, drawn
//     with philox_noise_normal (lib/sampler/philox.h, the same counter-based
//     generator the CPU uses) into [triangle index][channel] tables;
//  2. Legendre stage: one thread per (m, southern row), the block's
//     coefficients and recurrence tables staged through shared memory; it
//     runs the normalised associated Legendre recurrence in l for its row in
//     double,
//     accumulates the chunk's channels in float32, even and odd degree parts
//     separately, and so also yields the mirrored northern rows
//     (Pbar_l^m(-x) = (-1)^(l+m) Pbar_l^m(x)); the results are written as the
//     half-spectrum of each (channel, latitude row): X_0 = G_cos(0),
//     X_m = (G_cos(m) - i G_sin(m)) / 2, X_{n_lon/2} = 0, stored
//     frequency-major ([m][channel][row]) so that the writes coalesce;
//  3. a batched out-of-place cuFFT C2R over longitude (strided input) turns each half-spectrum
//     into sum_m G_cos(m) cos(m lambda) + G_sin(m) sin(m lambda);
//  4. a tiled transpose writes [channel][row][lon] into out[row*n_lon + lon][c].
// The recurrence tables (coefficients, start values, negligible-column bounds)
// follow lib/sampler/legendre.h, computed on the host in double.
//
// Invariants: a channel's values depend only on its own key (no reduction
// runs across channels), so batching never changes a field; the plan's
// scratch buffers are reused by every call on the owning backend's stream.
#pragma once

#include <cufft.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <span>

#include "backend/backend.h"
#include "backend/plan_sizes.h"

namespace gencast::cuda {

inline constexpr int kNoiseChunk = kNoisePlanChannels;  // channels per pass = lanes of a warp

class CudaNoisePlan final : public NoisePlan {
 public:
  // Validates the grid (InputError unless n_lon == 2 (n_lat - 1), n_lat >= 2)
  // and uploads the recurrence tables through `backend`.
  CudaNoisePlan(Backend& backend, int64_t n_lat, int64_t n_lon);
  ~CudaNoisePlan() override;
  CudaNoisePlan(const CudaNoisePlan&) = delete;
  CudaNoisePlan& operator=(const CudaNoisePlan&) = delete;

  int64_t n_lat() const override { return n_lat_; }
  int64_t n_lon() const override { return n_lon_; }
  int64_t degrees() const { return L_; }
  const Backend* owner() const { return owner_; }

  // out: [n_lat*n_lon, keys.size()] f32 or bf16 tensor of the owning backend.
  void sample(std::span<const NoiseKey> keys, Tensor& out, cudaStream_t stream) const;

 private:
  cufftHandle fft_plan(int batch, cudaStream_t stream) const;

  const Backend* owner_;
  int64_t n_lat_, n_lon_, L_, half_rows_, tri_;
  Tensor rec_a_, rec_b_, scale_, log_diag_, log_bound_, row_x_, row_s_;  // doubles
  Tensor z_cos_, z_sin_;  // f32 [tri * kNoiseChunk]
  Tensor spectra_;        // f32 pairs [(L + 1) * kNoiseChunk * n_lat]: frequency-major half-spectra
  Tensor fields_;         // f32 [kNoiseChunk * n_lat * n_lon]: the out-of-place C2R's output
  mutable std::map<int, cufftHandle> fft_plans_;  // by batch size (channels * n_lat)
};

}  // namespace gencast::cuda
