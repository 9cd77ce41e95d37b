// Loading a checkpoint for running: the file is read by io/checkpoint_reader,
// then its config is validated and its parameter tree checked against the
// schema the config implies (from headers alone, before any data is read).
#include "model/checkpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "model/config_validation.h"
#include "model/param_schema.h"

namespace gencast {

std::vector<Problem> param_tree_problems(const std::map<std::string, npy::Header>& found,
                                         const ModelConfig& config, const std::string& file) {
  const std::map<std::string, Shape> expected = expected_param_shapes(config);
  std::vector<Problem> problems;
  const std::string prefix = kParamKeyPrefix;
  for (const auto& [name, shape] : expected) {
    auto it = found.find(name);
    if (it == found.end()) {
      problems.push_back({file, prefix + name, "an array of shape " + shape_to_string(shape),
                          "the parameter is missing", {}});
      continue;
    }
    const npy::Header& h = it->second;
    if (!is_float_dtype(h.dtype))
      problems.push_back({file, prefix + name, "float32 (or float64/bfloat16/float16) values",
                          describe_array(h), {}});
    if (h.shape != shape) {
      std::string hint;
      if (name.find("encoder_nodes_") != std::string::npos && name.find("linear_0:w") != std::string::npos)
        hint = "the embedder's input width comes from task_config (variables, pressure levels, "
               "input_duration): " +
               std::to_string(grid_node_input_size(config.task)) + " for this task";
      problems.push_back({file, prefix + name, "shape " + shape_to_string(shape),
                          "shape " + shape_to_string(h.shape), hint});
    }
  }
  for (const auto& [name, h] : found) {
    if (expected.count(name)) continue;
    problems.push_back({file, prefix + name,
                        "only parameters of the model the config describes",
                        "an unexpected parameter (" + describe_array(h) + ")", {}});
  }
  return problems;
}

Checkpoint load_checkpoint(const std::string& path) {
  NpzReader reader(path);
  Checkpoint ckpt;
  ckpt.path = path;
  std::vector<std::string> unknown;
  ckpt.config = read_model_config(reader, &unknown);
  for (const auto& key : unknown)
    spdlog::warn("{}: ignoring unknown checkpoint key '{}'", path, key);
  validate_model_config(ckpt.config, path);

  // Check names, shapes and dtypes from the headers before reading any data,
  // so a wrong file fails fast and completely.
  const auto headers = read_param_headers(reader);
  std::vector<Problem> problems = param_tree_problems(headers, ckpt.config, path);
  if (!problems.empty()) throw InputError(std::move(problems));
  problems = read_params(reader, headers, ckpt.params);
  if (!problems.empty()) throw InputError(std::move(problems));
  spdlog::debug("{}: loaded {} parameter arrays, {} values", path, ckpt.params.count(),
                ckpt.params.total_values());
  return ckpt;
}

CheckpointSummary summarize_checkpoint(const std::string& path,
                                       const std::string& requested_attention,
                                       bool check_values) {
  NpzReader reader(path);
  CheckpointSummary s;
  s.path = path;
  s.config = read_model_config(reader, &s.unknown_keys);
  const auto headers = read_param_headers(reader);
  for (const auto& [name, h] : headers) {
    ++s.arrays;
    s.values += h.numel();
    s.bytes_stored += static_cast<int64_t>(h.data_bytes());
    ++s.dtype_counts[npy::dtype_name(h.dtype)];
  }
  s.problems = model_config_problems(s.config, path);
  // The schema is only meaningful for a valid config.
  if (s.problems.empty()) {
    s.schema_checked = true;
    for (const auto& [name, shape] : expected_param_shapes(s.config)) {
      ++s.expected_arrays;
      s.expected_values += shape_numel(shape);
    }
    for (auto& p : param_tree_problems(headers, s.config, path)) s.problems.push_back(std::move(p));
  }
  if (check_values) {
    for (auto& p : check_param_values(reader, headers)) s.problems.push_back(std::move(p));
    s.values_checked = true;
  }
  // An invalid --attention is a usage error, reported even for a bad checkpoint.
  try {
    s.attention = resolve_attention(s.config.denoiser.sparse_transformer_config, requested_attention);
  } catch (const InputError&) {
    if (std::find(accepted_attention_requests().begin(), accepted_attention_requests().end(),
                  requested_attention) == accepted_attention_requests().end())
      throw;
    // Otherwise the config's attention/mask type is unknown: already a problem above.
  }
  return s;
}

}  // namespace gencast
