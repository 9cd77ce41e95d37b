// Presets, random initialisation and the checkpoint writer.
#include "model/random_checkpoint.h"

#include <cmath>
#include <numbers>
#include <variant>

#include "core/error.h"
#include "io/npz.h"
#include "model/checkpoint.h"
#include "model/param_schema.h"

namespace gencast {
namespace {

// splitmix64: tiny, fast and fully specified, unlike std:: distributions
// whose output differs between standard libraries.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1]: never 0, so log() below is finite.
  double uniform() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }
};

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Box-Muller: two standard normals per two uniforms.
void fill_normal(ArrayF& array, double stddev, uint64_t stream_seed) {
  SplitMix64 rng{stream_seed};
  const size_t n = array.data.size();
  for (size_t i = 0; i < n; i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(rng.uniform()));
    const double angle = 2.0 * std::numbers::pi * rng.uniform();
    array.data[i] = static_cast<float>(stddev * radius * std::cos(angle));
    if (i + 1 < n) array.data[i + 1] = static_cast<float>(stddev * radius * std::sin(angle));
  }
}

std::string preset_list() {
  std::string out;
  for (const auto& p : official_presets()) out += (out.empty() ? "'" : ", '") + p + "'";
  return out;
}

}  // namespace

const std::vector<std::string>& official_presets() {
  static const std::vector<std::string> v{"1p0deg", "0p25deg", "mini", "tiny"};
  return v;
}

ModelConfig official_model_config(const std::string& preset) {
  ModelConfig m;
  m.task = default_gencast_task();
  // Official sizes (the dataclass defaults of model_config.h): latent 512,
  // 16 transformer layers, 4 heads, ffw 2048, k-hop 16, splash_mha / lazy.
  auto& st = m.denoiser.sparse_transformer_config;
  st.attention_k_hop = 16;
  st.d_model = 512;
  m.denoiser.latent_size = 512;
  m.denoiser.node_output_size = node_output_size(m.task);
  if (preset == "1p0deg") {
    m.denoiser.mesh_size = 5;
  } else if (preset == "0p25deg") {
    m.denoiser.mesh_size = 6;
  } else if (preset == "mini") {
    m.denoiser.mesh_size = 4;
  } else if (preset == "tiny") {
    // The reference fixture (tests/data/gencast_tiny): GPU-ready attention.
    m.denoiser.mesh_size = 3;
    m.denoiser.latent_size = 32;
    st.d_model = 32;
    st.num_layers = 2;
    st.num_heads = 4;
    st.ffw_hidden = 64;
    st.attention_k_hop = 4;
    st.attention_type = "triblockdiag_mha";
    st.mask_type = "full";
    m.sampler.num_noise_levels = 5;
  } else {
    fail_input("", "preset", "one of " + preset_list(), "'" + preset + "'");
  }
  m.description = "RANDOM WEIGHTS - GenCast " + preset +
                  " architecture with random parameters, written by gencast-run (not a trained "
                  "model).";
  m.license = "Random weights; carry no trained information.";
  return m;
}

ParamStore random_params(const ModelConfig& config, uint64_t seed) {
  ParamStore store;
  for (const auto& [name, shape] : expected_param_shapes(config)) {
    ArrayF array(shape);
    // Weights [in, out]: variance 1/fan_in keeps activations O(1) through the
    // network; biases small so they do not dominate.
    const double stddev = shape.size() >= 2 ? 1.0 / std::sqrt(static_cast<double>(shape[0])) : 0.01;
    fill_normal(array, stddev, seed ^ fnv1a(name));
    store.set(name, std::move(array));
  }
  return store;
}

void write_checkpoint(const std::string& path, const ModelConfig& config,
                      const ParamStore& params) {
  NpzWriter writer(path);
  for (const auto& entry : config_entries(config)) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) writer.add_string(entry.key, v);
          else if constexpr (std::is_same_v<T, int64_t>) writer.add_scalar_i64(entry.key, v);
          else if constexpr (std::is_same_v<T, double>) writer.add_scalar_f64(entry.key, v);
          else writer.add_scalar_bool(entry.key, v);
        },
        entry.value);
  }
  // The writer references the arrays; the store outlives close().
  for (const auto& [name, array] : params.arrays())
    writer.add_f32(std::string(kParamKeyPrefix) + name, array);
  writer.close();
}

}  // namespace gencast
