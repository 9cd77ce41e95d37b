// Checkpoint reading: typed config keys with every problem collected, array
// headers, parameter data read once into float32, and the config written back
// as keys. Knows the file format only; model/checkpoint.h validates.
#include "io/checkpoint_reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <cmath>
#include <optional>
#include <set>


namespace gencast {
namespace {


bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string describe_local(const npy::Header& h) {
  std::string dtype = npy::dtype_name(h.dtype);
  if (h.dtype == npy::DType::unicode) dtype = "a unicode string";
  return dtype + " of shape " + shape_to_string(h.shape);
}

// Reads typed 0-d config leaves, recording every problem instead of stopping
// at the first, and remembering which keys it consumed.
class ConfigReader {
 public:
  explicit ConfigReader(const NpzReader& reader) : r_(reader) {}

  std::string text(const std::string& key) {
    std::string out;
    if (scalar(key, "a 0-d unicode string", {npy::DType::unicode}))
      problems_.collect([&] { out = r_.read_string(key); });
    return out;
  }
  int64_t integer(const std::string& key) {
    int64_t out = 0;
    if (scalar(key, "a 0-d int64 (integer)", {npy::DType::i64, npy::DType::i32}))
      problems_.collect([&] { out = r_.read_scalar_i64(key); });
    return out;
  }
  double real(const std::string& key) {
    double out = 0;
    // An integer is a valid float value (the reference converts with float()).
    if (scalar(key, "a 0-d float64 (number)",
               {npy::DType::f64, npy::DType::f32, npy::DType::i64, npy::DType::i32}))
      problems_.collect([&] { out = r_.read_scalar_f64(key); });
    return out;
  }
  bool boolean(const std::string& key) {
    bool out = false;
    if (scalar(key, "a 0-d bool", {npy::DType::boolean}))
      problems_.collect([&] { out = r_.read_scalar_bool(key); });
    return out;
  }
  std::optional<int64_t> optional_integer(const std::string& key) {
    if (!r_.contains(key)) return std::nullopt;
    return integer(key);
  }
  std::optional<double> optional_real(const std::string& key) {
    if (!r_.contains(key)) return std::nullopt;
    return real(key);
  }
  std::optional<std::string> optional_text(const std::string& key) {
    if (!r_.contains(key)) return std::nullopt;
    return text(key);
  }
  std::vector<std::string> text_tuple(const std::string& prefix) {
    std::vector<std::string> out;
    for (int64_t i = 0, n = tuple_size(prefix); i < n; ++i)
      out.push_back(text(prefix + ":" + std::to_string(i)));
    return out;
  }
  std::vector<int64_t> integer_tuple(const std::string& prefix) {
    std::vector<int64_t> out;
    for (int64_t i = 0, n = tuple_size(prefix); i < n; ++i)
      out.push_back(integer(prefix + ":" + std::to_string(i)));
    return out;
  }

  const ProblemList& problems() const { return problems_; }
  std::vector<std::string> unused_config_keys() const {
    std::vector<std::string> out;
    for (const auto& k : r_.keys())
      if (!used_.count(k) && !starts_with(k, kParamKeyPrefix)) out.push_back(k);
    return out;
  }

 private:
  // The header of a present, 0-d key of an accepted dtype, or nullopt after
  // recording why not.
  std::optional<npy::Header> scalar(const std::string& key, const std::string& expected,
                                    std::initializer_list<npy::DType> accepted) {
    used_.insert(key);
    if (!r_.contains(key)) {
      problems_.add(r_.path(), key, expected, "the key is missing",
                    "checkpoints written by the reference checkpoint.dump hold every "
                    "non-Optional config field");
      return std::nullopt;
    }
    std::optional<npy::Header> h;
    problems_.collect([&] { h = r_.header(key); });
    if (!h) return std::nullopt;
    bool ok = h->shape.empty();  // 0-d, as the reference writes leaves
    if (ok) {
      ok = false;
      for (auto d : accepted) ok = ok || h->dtype == d;
    }
    if (!ok) {
      problems_.add(r_.path(), key, expected, describe_local(*h));
      return std::nullopt;
    }
    return h;
  }

  // Tuples are stored as consecutive keys <prefix>:0 .. <prefix>:n-1.
  int64_t tuple_size(const std::string& prefix) {
    std::set<int64_t> indices;
    const std::string head = prefix + ":";
    for (const auto& k : r_.keys()) {
      if (!starts_with(k, head)) continue;
      const std::string tail = k.substr(head.size());
      if (tail.empty() || tail.size() > 9 || tail.find_first_not_of("0123456789") != std::string::npos)
        continue;
      indices.insert(std::stoll(tail));
    }
    if (indices.empty()) {
      used_.insert(head + "0");
      problems_.add(r_.path(), head + "0", "a tuple stored as keys '" + head + "0', '" + head +
                                               "1', ...",
                    "the key is missing");
      return 0;
    }
    const int64_t n = static_cast<int64_t>(indices.size());
    if (*indices.rbegin() != n - 1) {
      for (int64_t i = 0; i < n; ++i) {
        if (indices.count(i)) continue;
        problems_.add(r_.path(), head + std::to_string(i),
                      "consecutive tuple indices 0.." + std::to_string(*indices.rbegin()),
                      "this index is missing");
        break;
      }
    }
    return *indices.rbegin() + 1;
  }

  const NpzReader& r_;
  ProblemList problems_;
  std::set<std::string> used_;
};

}  // namespace

bool is_float_dtype(npy::DType d) {
  return d == npy::DType::f32 || d == npy::DType::f64 || d == npy::DType::bf16 ||
         d == npy::DType::f16;
}

std::string describe_array(const npy::Header& h) { return describe_local(h); }

namespace {

// Adds a problem when `array` (parameter `key`) holds NaN or inf.
void check_finite(const NpzReader& reader, const std::string& key, const ArrayF& array,
                  std::vector<Problem>& problems) {
  int64_t bad = 0;
  for (float v : array.data) bad += std::isfinite(v) ? 0 : 1;
  if (bad)
    problems.push_back({reader.path(), key, "finite values",
                        std::to_string(bad) + " NaN/inf of " + std::to_string(array.numel()),
                        "the checkpoint is damaged, or was saved from a diverged training run"});
}

}  // namespace

std::vector<Problem> read_params(const NpzReader& reader,
                                 const std::map<std::string, npy::Header>& headers,
                                 ParamStore& params) {
  std::vector<Problem> problems;
  const std::string prefix = kParamKeyPrefix;
  for (const auto& [name, header] : headers) {
    ArrayF array = reader.read_f32(prefix + name);
    check_finite(reader, prefix + name, array, problems);
    params.set(name, std::move(array));
  }
  return problems;
}

std::vector<Problem> check_param_values(const NpzReader& reader,
                                        const std::map<std::string, npy::Header>& headers) {
  std::vector<Problem> problems;
  const std::string prefix = kParamKeyPrefix;
  for (const auto& entry : headers) {
    const std::string key = prefix + entry.first;
    ProblemList unreadable;
    unreadable.collect([&] { check_finite(reader, key, reader.read_f32(key), problems); });
    for (const auto& p : unreadable.problems()) problems.push_back(p);
  }
  return problems;
}

ModelConfig read_model_config(const NpzReader& reader, std::vector<std::string>* unknown_keys) {
  ConfigReader c(reader);
  ModelConfig m;
  m.description = c.text("description");
  m.license = c.text("license");

  const std::string t = kTaskConfigKey;
  m.task.input_variables = c.text_tuple(t + "input_variables");
  m.task.target_variables = c.text_tuple(t + "target_variables");
  m.task.forcing_variables = c.text_tuple(t + "forcing_variables");
  m.task.pressure_levels = c.integer_tuple(t + "pressure_levels");
  m.task.input_duration = c.text(t + "input_duration");

  const std::string s = kTransformerConfigKey;
  auto& st = m.denoiser.sparse_transformer_config;
  st.attention_k_hop = c.integer(s + "attention_k_hop");
  st.d_model = c.integer(s + "d_model");
  st.num_layers = c.integer(s + "num_layers");
  st.num_heads = c.integer(s + "num_heads");
  st.attention_type = c.text(s + "attention_type");
  st.mask_type = c.text(s + "mask_type");
  st.block_q = c.integer(s + "block_q");
  st.block_kv = c.integer(s + "block_kv");
  st.block_kv_compute = c.integer(s + "block_kv_compute");
  st.block_q_dkv = c.integer(s + "block_q_dkv");
  st.block_kv_dkv = c.integer(s + "block_kv_dkv");
  st.block_kv_dkv_compute = c.integer(s + "block_kv_dkv_compute");
  st.ffw_winit_final_mult = c.real(s + "ffw_winit_final_mult");
  st.attn_winit_final_mult = c.real(s + "attn_winit_final_mult");
  st.ffw_hidden = c.integer(s + "ffw_hidden");
  st.name = c.optional_text(s + "name");

  const std::string d = kDenoiserConfigKey;
  m.denoiser.mesh_size = c.integer(d + "mesh_size");
  m.denoiser.latent_size = c.integer(d + "latent_size");
  m.denoiser.hidden_layers = c.integer(d + "hidden_layers");
  m.denoiser.radius_query_fraction_edge_length = c.real(d + "radius_query_fraction_edge_length");
  m.denoiser.norm_conditioning_features = c.text_tuple(d + "norm_conditioning_features");
  m.denoiser.grid2mesh_aggregate_normalization =
      c.optional_real(d + "grid2mesh_aggregate_normalization");
  m.denoiser.node_output_size = c.optional_integer(d + "node_output_size");

  const std::string p = kSamplerConfigKey;
  m.sampler.max_noise_level = c.real(p + "max_noise_level");
  m.sampler.min_noise_level = c.real(p + "min_noise_level");
  m.sampler.num_noise_levels = c.integer(p + "num_noise_levels");
  m.sampler.rho = c.real(p + "rho");
  m.sampler.stochastic_churn_rate = c.real(p + "stochastic_churn_rate");
  m.sampler.churn_min_noise_level = c.real(p + "churn_min_noise_level");
  m.sampler.churn_max_noise_level = c.real(p + "churn_max_noise_level");
  m.sampler.noise_level_inflation_factor = c.real(p + "noise_level_inflation_factor");

  const std::string n = kNoiseConfigKey;
  m.noise.training_noise_level_rho = c.real(n + "training_noise_level_rho");
  m.noise.training_max_noise_level = c.real(n + "training_max_noise_level");
  m.noise.training_min_noise_level = c.real(n + "training_min_noise_level");

  const std::string e = kNoiseEncoderConfigKey;
  m.noise_encoder.apply_log_first = c.boolean(e + "apply_log_first");
  m.noise_encoder.base_period = c.real(e + "base_period");
  m.noise_encoder.num_frequencies = c.integer(e + "num_frequencies");
  m.noise_encoder.output_sizes = c.integer_tuple(e + "output_sizes");

  c.problems().throw_if_any();
  if (unknown_keys) *unknown_keys = c.unused_config_keys();
  return m;
}

std::map<std::string, npy::Header> read_param_headers(const NpzReader& reader) {
  std::map<std::string, npy::Header> out;
  ProblemList problems;
  const std::string prefix = kParamKeyPrefix;
  for (const auto& key : reader.keys()) {
    if (!starts_with(key, prefix)) continue;
    problems.collect([&] { out[key.substr(prefix.size())] = reader.header(key); });
  }
  problems.throw_if_any();
  return out;
}

std::vector<ConfigEntry> config_entries(const ModelConfig& m) {
  std::vector<ConfigEntry> out;
  auto add = [&](std::string key, ConfigValue v) { out.push_back({std::move(key), std::move(v)}); };
  auto add_texts = [&](const std::string& key, const std::vector<std::string>& values) {
    for (size_t i = 0; i < values.size(); ++i) add(key + ":" + std::to_string(i), values[i]);
  };
  auto add_ints = [&](const std::string& key, const std::vector<int64_t>& values) {
    for (size_t i = 0; i < values.size(); ++i) add(key + ":" + std::to_string(i), values[i]);
  };
  add("description", m.description);
  add("license", m.license);

  const std::string t = kTaskConfigKey;
  add_texts(t + "input_variables", m.task.input_variables);
  add_texts(t + "target_variables", m.task.target_variables);
  add_texts(t + "forcing_variables", m.task.forcing_variables);
  add_ints(t + "pressure_levels", m.task.pressure_levels);
  add(t + "input_duration", m.task.input_duration);

  const std::string s = kTransformerConfigKey;
  const auto& st = m.denoiser.sparse_transformer_config;
  add(s + "attention_k_hop", st.attention_k_hop);
  add(s + "d_model", st.d_model);
  add(s + "num_layers", st.num_layers);
  add(s + "num_heads", st.num_heads);
  add(s + "attention_type", st.attention_type);
  add(s + "mask_type", st.mask_type);
  add(s + "block_q", st.block_q);
  add(s + "block_kv", st.block_kv);
  add(s + "block_kv_compute", st.block_kv_compute);
  add(s + "block_q_dkv", st.block_q_dkv);
  add(s + "block_kv_dkv", st.block_kv_dkv);
  add(s + "block_kv_dkv_compute", st.block_kv_dkv_compute);
  add(s + "ffw_winit_final_mult", st.ffw_winit_final_mult);
  add(s + "attn_winit_final_mult", st.attn_winit_final_mult);
  add(s + "ffw_hidden", st.ffw_hidden);
  if (st.name) add(s + "name", *st.name);

  const std::string d = kDenoiserConfigKey;
  add(d + "mesh_size", m.denoiser.mesh_size);
  add(d + "latent_size", m.denoiser.latent_size);
  add(d + "hidden_layers", m.denoiser.hidden_layers);
  add(d + "radius_query_fraction_edge_length", m.denoiser.radius_query_fraction_edge_length);
  add_texts(d + "norm_conditioning_features", m.denoiser.norm_conditioning_features);
  if (m.denoiser.grid2mesh_aggregate_normalization)
    add(d + "grid2mesh_aggregate_normalization", *m.denoiser.grid2mesh_aggregate_normalization);
  if (m.denoiser.node_output_size) add(d + "node_output_size", *m.denoiser.node_output_size);

  const std::string p = kSamplerConfigKey;
  add(p + "max_noise_level", m.sampler.max_noise_level);
  add(p + "min_noise_level", m.sampler.min_noise_level);
  add(p + "num_noise_levels", m.sampler.num_noise_levels);
  add(p + "rho", m.sampler.rho);
  add(p + "stochastic_churn_rate", m.sampler.stochastic_churn_rate);
  add(p + "churn_min_noise_level", m.sampler.churn_min_noise_level);
  add(p + "churn_max_noise_level", m.sampler.churn_max_noise_level);
  add(p + "noise_level_inflation_factor", m.sampler.noise_level_inflation_factor);

  const std::string n = kNoiseConfigKey;
  add(n + "training_noise_level_rho", m.noise.training_noise_level_rho);
  add(n + "training_max_noise_level", m.noise.training_max_noise_level);
  add(n + "training_min_noise_level", m.noise.training_min_noise_level);

  const std::string e = kNoiseEncoderConfigKey;
  add(e + "apply_log_first", m.noise_encoder.apply_log_first);
  add(e + "base_period", m.noise_encoder.base_period);
  add(e + "num_frequencies", m.noise_encoder.num_frequencies);
  add_ints(e + "output_sizes", m.noise_encoder.output_sizes);
  return out;
}

std::string config_value_text(const ConfigValue& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  const double v = std::get<double>(value);
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string text(buf, res.ptr);
  // Keep floats recognisable as floats ("80.0", not "80"), as Python prints them.
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

}  // namespace gencast
