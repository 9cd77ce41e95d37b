// Reading and writing the official checkpoint format (.npz written by the
// reference checkpoint.dump): the file layout only, no knowledge of which
// parameters a network has (model/param_schema.h) or whether a config is
// runnable (model/config_validation.h).
//
// Layout: a flattened dataclass tree with ':' separators. "description" and
// "license" strings; config leaves "task_config:<field>[:<i>]",
// "denoiser_architecture_config:[sparse_transformer_config:]<field>",
// "sampler_config:*", "noise_config:*", "noise_encoder_config:*" as 0-d
// arrays (strings unicode, ints int64, floats float64 (inf allowed), bools
// bool; tuples as keys ":0", ":1", ...; Optional fields that are None are
// absent); parameters "params:<haiku module path>:<w|b>" as float32 (float64,
// bfloat16 and float16 are accepted and converted).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "config/model_config.h"
#include "config/param_store.h"
#include "core/error.h"
#include "io/npy.h"
#include "io/npz.h"

namespace gencast {

inline constexpr const char* kParamKeyPrefix = "params:";

// Reads and type-checks the configs only (no parameter data). Every missing
// required key and every wrongly typed key is reported in one InputError.
// Keys that are neither configs nor parameters are ignored, as the reference
// does, and listed in `unknown_keys` when given.
ModelConfig read_model_config(const NpzReader& reader,
                              std::vector<std::string>* unknown_keys = nullptr);

// The .npy headers of every "params:" member, keyed by parameter name
// (prefix removed). Reads headers only, never the data.
std::map<std::string, npy::Header> read_param_headers(const NpzReader& reader);

// Float dtypes a parameter may be stored in (converted to float32 on read).
bool is_float_dtype(npy::DType d);
// "float32 of shape (3, 4)", for messages.
std::string describe_array(const npy::Header& h);

// Reads every parameter of `headers` into `params` as float32, one copy in
// host memory. Returns a problem for each array holding NaN or inf.
std::vector<Problem> read_params(const NpzReader& reader,
                                 const std::map<std::string, npy::Header>& headers,
                                 ParamStore& params);

// Reads every parameter of `headers` once, keeping none, and returns the
// problems read_params would: arrays holding NaN or inf, plus unreadable
// arrays. Memory: one array at a time (check-config, inspect --values).
std::vector<Problem> check_param_values(const NpzReader& reader,
                                        const std::map<std::string, npy::Header>& headers);

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
