#include "model/noise_encoder.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace gencast {
namespace {

double gelu_tanh(double x) {
  const double c = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
}

}  // namespace

std::vector<double> fourier_features(double value, double base_period, int64_t num_frequencies) {
  // The reference evaluates this in float32: round the angular frequency and
  // the product to float32 so small differences in the encoding do not grow.
  std::vector<double> out(static_cast<size_t>(2 * num_frequencies));
  const auto v = static_cast<float>(value);
  for (int64_t k = 1; k <= num_frequencies; ++k) {
    const auto w = static_cast<float>(2.0 * std::numbers::pi * static_cast<double>(k) / base_period);
    const float phase = v * w;
    out[static_cast<size_t>(k - 1)] = std::cos(static_cast<double>(phase));
    out[static_cast<size_t>(num_frequencies + k - 1)] = std::sin(static_cast<double>(phase));
  }
  return out;
}

NoiseLevelEncoder::NoiseLevelEncoder(const NoiseEncoderConfig& config, const ParamStore& params)
    : config_(config) {
  const std::string prefix = "fourier_features_mlp/~/mlp/~/linear_";
  for (size_t i = 0; i < config.output_sizes.size(); ++i) {
    weights_.push_back(params.get(prefix + std::to_string(i) + ":w"));
    biases_.push_back(params.get(prefix + std::to_string(i) + ":b"));
  }
  out_size_ = config.output_sizes.empty() ? 0 : config.output_sizes.back();
}

std::vector<double> NoiseLevelEncoder::encode(double sigma) const {
  if (!(sigma > 0) && config_.apply_log_first)
    throw RuntimeFailure("noise level encoder: sigma must be > 0, got " + std::to_string(sigma));
  const double value = config_.apply_log_first ? std::log(static_cast<float>(sigma)) : sigma;
  std::vector<double> h = fourier_features(value, config_.base_period, config_.num_frequencies);
  for (size_t layer = 0; layer < weights_.size(); ++layer) {
    const ArrayF& w = weights_[layer];
    const ArrayF& b = biases_[layer];
    const int64_t in = w.dim(0), out = w.dim(1);
    std::vector<double> next(static_cast<size_t>(out));
    for (int64_t o = 0; o < out; ++o) {
      double acc = b.data[static_cast<size_t>(o)];
      for (int64_t i = 0; i < in; ++i)
        acc += h[static_cast<size_t>(i)] * w.data[static_cast<size_t>(i * out + o)];
      // hk.nets.MLP: activation between layers, not after the last one.
      next[static_cast<size_t>(o)] = layer + 1 < weights_.size() ? gelu_tanh(acc) : acc;
    }
    h = std::move(next);
  }
  return h;
}

}  // namespace gencast
