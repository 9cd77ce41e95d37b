// Official GenCast checkpoints (.npz written by the reference checkpoint.dump).
//
// Layout: a flattened dataclass tree with ':' separators. "description" and
// "license" strings; config leaves "task_config:<field>[:<i>]",
// "denoiser_architecture_config:[sparse_transformer_config:]<field>",
// "sampler_config:*", "noise_config:*", "noise_encoder_config:*" as 0-d
// arrays (strings unicode, ints int64, floats float64 (inf allowed), bools
// bool; tuples as keys ":0", ":1", ...; Optional fields that are None are
// absent); parameters "params:<haiku module path>:<w|b>" as float32 (float64,
// bfloat16 and float16 are accepted and converted).
//
// Invariants of a loaded Checkpoint: the config passed validate_model_config,
// the parameter names and shapes equal expected_param_shapes(config) exactly,
// every value is finite float32. float32 parameters are read straight from the
// archive into the ParamStore (one copy in host memory, never two).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/error.h"
#include "io/npy.h"
#include "io/npz.h"
#include "model/attention_choice.h"
#include "model/model_config.h"
#include "model/param_store.h"

namespace gencast {

inline constexpr const char* kParamKeyPrefix = "params:";

struct Checkpoint {
  ModelConfig config;
  ParamStore params;
  std::string path;
};

// Reads and type-checks the configs only (no parameter data). Every missing
// required key and every wrongly typed key is reported in one InputError.
// Keys that are neither configs nor parameters are ignored, as the reference
// does, and listed in `unknown_keys` when given.
ModelConfig read_model_config(const NpzReader& reader,
                              std::vector<std::string>* unknown_keys = nullptr);

// The .npy headers of every "params:" member, keyed by parameter name
// (prefix removed). Reads headers only, never the data.
std::map<std::string, npy::Header> read_param_headers(const NpzReader& reader);

// Every missing, unexpected, wrongly shaped or non-float parameter, compared
// with expected_param_shapes(config). `file` names the checkpoint in messages.
std::vector<Problem> param_tree_problems(const std::map<std::string, npy::Header>& found,
                                         const ModelConfig& config, const std::string& file);

// Reads, validates (config, then parameter tree) and converts to float32.
// Throws InputError (exit code 2) naming every problem.
Checkpoint load_checkpoint(const std::string& path);

// What `inspect` and `check-config` report about a checkpoint, gathered from
// the configs and the parameter headers only (no parameter data is read).
struct CheckpointSummary {
  std::string path;
  ModelConfig config;
  std::vector<std::string> unknown_keys;  // neither config nor parameter; ignored
  int64_t arrays = 0;                     // "params:" members
  int64_t values = 0;                     // their total element count
  int64_t bytes_stored = 0;               // their data bytes in the file's dtypes
  std::map<std::string, int64_t> dtype_counts;  // dtype name -> arrays
  bool schema_checked = false;            // false when the config itself is invalid
  int64_t expected_arrays = 0, expected_values = 0;  // from the schema, when checked
  std::vector<Problem> problems;          // config problems, then parameter-tree problems
  std::optional<AttentionChoice> attention;  // absent when the config's attention is unknown
  bool ok() const { return problems.empty(); }
};

// Throws InputError only when the archive or its config keys cannot be read;
// everything else (invalid values, parameter mismatches) lands in `problems`.
// `requested_attention` is the --attention value (see resolve_attention).
CheckpointSummary summarize_checkpoint(const std::string& path,
                                       const std::string& requested_attention);

// A config leaf as stored in a checkpoint.
using ConfigValue = std::variant<std::string, int64_t, double, bool>;
struct ConfigEntry {
  std::string key;  // e.g. "task_config:pressure_levels:3"
  ConfigValue value;
};
// Every non-parameter key a checkpoint of `config` holds, in dataclass order
// (description, license, task, denoiser, sampler, noise, noise encoder).
std::vector<ConfigEntry> config_entries(const ModelConfig& config);
// A value as text: strings verbatim, floats in shortest round-trip form
// ("inf" for infinity), bools "true"/"false".
std::string config_value_text(const ConfigValue& value);

}  // namespace gencast
