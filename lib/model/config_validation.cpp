// Config checks. Comparisons are written as !(x > bound) so that NaN fails them.
#include "model/config_validation.h"

#include <cmath>
#include <charconv>
#include <set>

#include "config/variables.h"
#include "model/param_schema.h"

namespace gencast {
namespace {

// Upper bounds of the network's sizes and counts (see Checker::within).
constexpr int64_t kMaxWidth = 65536;   // latent_size, d_model, ffw_hidden, MLP sizes
constexpr int64_t kMaxLayers = 1024;   // transformer blocks
constexpr int64_t kMaxHiddenLayers = 64;
constexpr int64_t kMaxKHop = 64;
constexpr int64_t kMaxFrequencies = 4096;
constexpr int64_t kMaxNoiseLevels = 10000;  // as the run spec's sampler.num_noise_levels


std::string quoted_list(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", '" : "'") + values[i] + "'";
  return out;
}

// Shortest text that reads back as the same double ("0.6", not "0.59999999999999998").
std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

// Collects problems for one file with short call sites.
struct Checker {
  const std::string& file;
  std::vector<Problem> problems;

  void add(std::string field, std::string expected, std::string found, std::string hint = {}) {
    problems.push_back(Problem{file, std::move(field), std::move(expected), std::move(found),
                               std::move(hint)});
  }
  // A size or count with an upper bound far above any GenCast network (the
  // official ones use 512, 2048, 16 layers): a corrupt value is reported
  // instead of making the parameter schema loop or its sizes overflow.
  void within(const std::string& field, int64_t value, int64_t minimum, int64_t maximum) {
    if (value < minimum || value > maximum)
      add(field, "an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum),
          std::to_string(value));
  }
  void positive(const std::string& field, double value) {
    if (!(value > 0) || !std::isfinite(value)) add(field, "a finite number > 0", number(value));
  }
  void one_of(const std::string& field, const std::string& value,
              const std::vector<std::string>& accepted) {
    for (const auto& a : accepted)
      if (value == a) return;
    add(field, "one of " + quoted_list(accepted), "'" + value + "'");
  }
  void unique_names(const std::string& field, const std::vector<std::string>& names,
                    bool must_be_nonempty) {
    if (must_be_nonempty && names.empty()) add(field + ":0", "at least one variable", "none");
    std::set<std::string> seen;
    for (const auto& n : names)
      if (!seen.insert(n).second) add(field, "distinct variable names", "'" + n + "' twice");
  }
};

void check_task(Checker& c, const TaskConfig& task) {
  c.unique_names(std::string(kTaskConfigKey) + "input_variables", task.input_variables, true);
  c.unique_names(std::string(kTaskConfigKey) + "target_variables", task.target_variables, true);
  c.unique_names(std::string(kTaskConfigKey) + "forcing_variables", task.forcing_variables, false);
  const std::string levels = std::string(kTaskConfigKey) + "pressure_levels";
  if (task.pressure_levels.empty()) c.add(levels + ":0", "at least one pressure level", "none");
  std::set<int64_t> seen;
  for (int64_t p : task.pressure_levels) {
    if (p <= 0) c.add(levels, "pressure levels in hPa > 0", std::to_string(p));
    if (!seen.insert(p).second) c.add(levels, "distinct pressure levels", std::to_string(p) + " twice");
  }
  try {
    input_frame_count(task);
  } catch (const InputError& e) {
    for (auto p : e.problems()) {  // same wording, attributed to this file
      p.file = c.file;
      c.problems.push_back(std::move(p));
    }
  }
}

void check_transformer(Checker& c, const SparseTransformerConfig& st, int64_t latent_size) {
  const std::string k = kTransformerConfigKey;
  c.within(k + "attention_k_hop", st.attention_k_hop, 1, kMaxKHop);
  c.within(k + "num_layers", st.num_layers, 1, kMaxLayers);
  c.within(k + "num_heads", st.num_heads, 1, kMaxWidth);
  c.within(k + "d_model", st.d_model, 1, kMaxWidth);
  c.within(k + "ffw_hidden", st.ffw_hidden, 1, kMaxWidth);
  if (st.num_heads >= 1 && st.d_model >= 1 && st.d_model % st.num_heads != 0)
    c.add(k + "d_model", "a multiple of num_heads (" + std::to_string(st.num_heads) + ")",
          std::to_string(st.d_model));
  if (st.d_model != latent_size)
    c.add(k + "d_model",
          "equal to denoiser_architecture_config:latent_size (" + std::to_string(latent_size) +
              "): the transformer runs on the encoder's latents",
          std::to_string(st.d_model));
  c.one_of(k + "attention_type", st.attention_type, accepted_attention_types());
  c.one_of(k + "mask_type", st.mask_type, accepted_mask_types());
}

void check_denoiser(Checker& c, const ModelConfig& config) {
  const auto& d = config.denoiser;
  const std::string k = kDenoiserConfigKey;
  if (d.mesh_size < 0 || d.mesh_size > 7)
    c.add(k + "mesh_size", "an icosahedral refinement level in 0..7", std::to_string(d.mesh_size));
  c.within(k + "latent_size", d.latent_size, 1, kMaxWidth);
  c.within(k + "hidden_layers", d.hidden_layers, 0, kMaxHiddenLayers);
  c.positive(k + "radius_query_fraction_edge_length", d.radius_query_fraction_edge_length);
  if (d.grid2mesh_aggregate_normalization)
    c.positive(k + "grid2mesh_aggregate_normalization", *d.grid2mesh_aggregate_normalization);
  const auto& accepted = accepted_norm_conditioning_features();
  if (d.norm_conditioning_features != accepted) {
    std::string found;
    for (const auto& f : d.norm_conditioning_features) found += (found.empty() ? "'" : ", '") + f + "'";
    c.add(k + "norm_conditioning_features", "exactly (" + quoted_list(accepted) + ")",
          found.empty() ? "none" : "(" + found + ")",
          "GenCast conditions every LayerNorm on the noise-level encoding");
  }
  if (d.node_output_size) {
    const int64_t from_task = node_output_size(config.task);
    if (*d.node_output_size != from_task)
      c.add(k + "node_output_size",
            std::to_string(from_task) + " (one channel per target variable and level of the task)",
            std::to_string(*d.node_output_size));
  }
  check_transformer(c, d.sparse_transformer_config, d.latent_size);
}

void check_sampler(Checker& c, const SamplerConfig& s) {
  const std::string k = kSamplerConfigKey;
  c.within(k + "num_noise_levels", s.num_noise_levels, 1, kMaxNoiseLevels);
  c.positive(k + "min_noise_level", s.min_noise_level);
  c.positive(k + "max_noise_level", s.max_noise_level);
  if (s.max_noise_level > 0 && s.min_noise_level > 0 && !(s.max_noise_level > s.min_noise_level))
    c.add(k + "max_noise_level", "greater than min_noise_level (" + number(s.min_noise_level) + ")",
          number(s.max_noise_level));
  c.positive(k + "rho", s.rho);
  if (!(s.stochastic_churn_rate >= 0) || !std::isfinite(s.stochastic_churn_rate))
    c.add(k + "stochastic_churn_rate", "a finite number >= 0", number(s.stochastic_churn_rate));
  if (!(s.churn_min_noise_level >= 0) || !std::isfinite(s.churn_min_noise_level))
    c.add(k + "churn_min_noise_level", "a finite number >= 0", number(s.churn_min_noise_level));
  // churn_max_noise_level may be +inf (churn at every level above the minimum).
  if (!(s.churn_max_noise_level >= s.churn_min_noise_level))
    c.add(k + "churn_max_noise_level",
          "a number >= churn_min_noise_level (" + number(s.churn_min_noise_level) + "), or inf",
          number(s.churn_max_noise_level));
  c.positive(k + "noise_level_inflation_factor", s.noise_level_inflation_factor);
}

void check_noise_encoder(Checker& c, const NoiseEncoderConfig& e) {
  const std::string k = kNoiseEncoderConfigKey;
  c.positive(k + "base_period", e.base_period);
  c.within(k + "num_frequencies", e.num_frequencies, 1, kMaxFrequencies);
  if (e.output_sizes.empty()) c.add(k + "output_sizes:0", "at least one MLP layer size", "none");
  for (size_t i = 0; i < e.output_sizes.size(); ++i)
    c.within(k + "output_sizes:" + std::to_string(i), e.output_sizes[i], 1, kMaxWidth);
}

}  // namespace

const std::vector<std::string>& accepted_attention_types() {
  static const std::vector<std::string> v{"splash_mha", "triblockdiag_mha", "mha"};
  return v;
}

const std::vector<std::string>& accepted_mask_types() {
  static const std::vector<std::string> v{"lazy", "full"};
  return v;
}

const std::vector<std::string>& accepted_norm_conditioning_features() {
  static const std::vector<std::string> v{"noise_level_encodings"};
  return v;
}

std::vector<Problem> model_config_problems(const ModelConfig& config, const std::string& file) {
  Checker c{file, {}};
  check_task(c, config.task);
  check_denoiser(c, config);
  check_sampler(c, config.sampler);
  check_noise_encoder(c, config.noise_encoder);
  return std::move(c.problems);
}

void validate_model_config(const ModelConfig& config, const std::string& file) {
  std::vector<Problem> problems = model_config_problems(config, file);
  if (!problems.empty()) throw InputError(std::move(problems));
}

}  // namespace gencast
