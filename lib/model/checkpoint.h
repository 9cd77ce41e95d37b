// Official GenCast checkpoints, loaded for running (io/checkpoint_reader.h
// reads the file format).
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
#include <vector>

#include "config/model_config.h"
#include "config/param_store.h"
#include "core/error.h"
#include "io/checkpoint_reader.h"
#include "model/attention_choice.h"

namespace gencast {

struct Checkpoint {
  ModelConfig config;
  ParamStore params;
  std::string path;
};

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
  bool values_checked = false;            // every parameter value was read and checked finite
  bool ok() const { return problems.empty(); }
};

// Throws InputError only when the archive or its config keys cannot be read;
// everything else (invalid values, parameter mismatches) lands in `problems`.
// `requested_attention` is the --attention value (see resolve_attention).
// `check_values`: also read every parameter once and report NaN/inf values
// (what loading the checkpoint would refuse); costs a read of the whole file.
CheckpointSummary summarize_checkpoint(const std::string& path,
                                       const std::string& requested_attention,
                                       bool check_values = false);

}  // namespace gencast
