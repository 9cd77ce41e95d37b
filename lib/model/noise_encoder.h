// Noise-level conditioning, computed on the host once per denoiser call.
//
// GenCast conditions every LayerNorm on the noise level sigma: Fourier
// features of log(sigma) go through a small MLP (the "noise level encoding",
// 16 values), and each LinearNormConditioning layer maps that encoding to a
// per-channel (scale - 1, offset) pair. These are a few thousand FLOPs, so we
// evaluate them in double on the host and upload one small vector per call.
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"
#include "config/param_store.h"
#include "core/array.h"

namespace gencast {

class NoiseLevelEncoder {
 public:
  NoiseLevelEncoder(const NoiseEncoderConfig& config, const ParamStore& params);
  // The encoding (output of the MLP) for one noise level.
  std::vector<double> encode(double sigma) const;
  int64_t size() const { return out_size_; }

 private:
  NoiseEncoderConfig config_;
  std::vector<ArrayF> weights_, biases_;
  int64_t out_size_ = 0;
};

// One LinearNormConditioning layer: encoding @ w + b -> [scale-1 | offset].
struct NormConditioningLayer {
  std::string name;  // haiku module path, for messages
  ArrayF w;          // [encoding, 2C]
  ArrayF b;          // [2C]
  int64_t channels() const { return w.dim(1) / 2; }
};

// Fourier features of `value`: [cos(2π k v / P) for k=1..F, sin(...) for k=1..F].
std::vector<double> fourier_features(double value, double base_period, int64_t num_frequencies);

}  // namespace gencast
