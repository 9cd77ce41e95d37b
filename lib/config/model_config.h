// Typed GenCast configuration, mirroring the dataclasses stored in official
// checkpoints (weathernext1_gen: TaskConfig, DenoiserArchitectureConfig,
// SparseTransformerConfig, SamplerConfig, NoiseConfig, NoiseEncoderConfig).
// Field names follow the checkpoint keys so messages can name them exactly.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace gencast {

// Key prefixes of the config sections in an official checkpoint (the
// dataclass fields, joined by ':'), used by the loader and in messages.
inline constexpr const char* kTaskConfigKey = "task_config:";
inline constexpr const char* kDenoiserConfigKey = "denoiser_architecture_config:";
inline constexpr const char* kTransformerConfigKey =
    "denoiser_architecture_config:sparse_transformer_config:";
inline constexpr const char* kSamplerConfigKey = "sampler_config:";
inline constexpr const char* kNoiseConfigKey = "noise_config:";
inline constexpr const char* kNoiseEncoderConfigKey = "noise_encoder_config:";

struct TaskConfig {
  std::vector<std::string> input_variables;
  std::vector<std::string> target_variables;
  std::vector<std::string> forcing_variables;
  std::vector<int64_t> pressure_levels;  // hPa, as stored
  std::string input_duration;            // e.g. "24h": two frames 12 h apart
};

struct SparseTransformerConfig {
  int64_t attention_k_hop = 16;
  int64_t d_model = 512;
  int64_t num_layers = 16;
  int64_t num_heads = 4;
  std::string attention_type = "splash_mha";  // splash_mha | triblockdiag_mha | mha
  std::string mask_type = "lazy";             // lazy | full
  // Splash-attention tiling: kept for round-tripping, irrelevant on GPU.
  int64_t block_q = 1024;
  int64_t block_kv = 512;
  int64_t block_kv_compute = 256;
  int64_t block_q_dkv = 512;
  int64_t block_kv_dkv = 1024;
  int64_t block_kv_dkv_compute = 1024;
  double ffw_winit_final_mult = 0.0;
  double attn_winit_final_mult = 0.0;
  int64_t ffw_hidden = 2048;
  std::optional<std::string> name;
};

struct DenoiserArchitectureConfig {
  SparseTransformerConfig sparse_transformer_config;
  int64_t mesh_size = 6;
  int64_t latent_size = 512;
  int64_t hidden_layers = 1;
  double radius_query_fraction_edge_length = 0.6;
  std::vector<std::string> norm_conditioning_features{"noise_level_encodings"};
  std::optional<double> grid2mesh_aggregate_normalization;
  std::optional<int64_t> node_output_size;
};

struct SamplerConfig {
  double max_noise_level = 80.0;
  double min_noise_level = 0.03;
  int64_t num_noise_levels = 20;
  double rho = 7.0;
  double stochastic_churn_rate = 2.5;
  double churn_min_noise_level = 0.75;
  double churn_max_noise_level = std::numeric_limits<double>::infinity();
  double noise_level_inflation_factor = 1.05;
};

struct NoiseConfig {  // training-time only; kept for inspect/round-trip
  double training_noise_level_rho = 7.0;
  double training_max_noise_level = 88.0;
  double training_min_noise_level = 0.02;
};

struct NoiseEncoderConfig {
  bool apply_log_first = true;
  double base_period = 16.0;
  int64_t num_frequencies = 32;
  std::vector<int64_t> output_sizes{32, 16};
};

// Everything a checkpoint says about the model, minus the parameters.
struct ModelConfig {
  std::string description;
  std::string license;
  TaskConfig task;
  DenoiserArchitectureConfig denoiser;
  SamplerConfig sampler;
  NoiseConfig noise;
  NoiseEncoderConfig noise_encoder;
};

// The official GenCast task (13 pressure levels), as in gencast.TASK.
TaskConfig default_gencast_task();

}  // namespace gencast
