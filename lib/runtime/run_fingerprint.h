// The identity of a forecast run: everything that changes member k's values
// (checkpoint and stats content, the input fields, init time, seed, steps,
// precision, batch, sampler settings, attention mode) and nothing that does
// not (devices, member selection, output options). Written into every output
// (global attributes gencast_run_fingerprint / gencast_run_identity), it is
// how `merge` refuses parts of different runs and `--resume` refuses a
// partial file from another run, naming the settings that differ.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/model_config.h"
#include "io/netcdf_input.h"
#include "io/stats.h"
#include "spec/run_spec.h"

namespace gencast {

struct RunFingerprint {
  // (key, value) in a fixed order; values are single-line text.
  std::vector<std::pair<std::string, std::string>> items;
  // "key: value" lines, the identity attribute's text.
  std::string text() const;
  // 16 hex digits over text(): the fingerprint attribute.
  std::string digest() const;
};

// Hex digest of a file's bytes (RuntimeFailure naming the file if unreadable).
std::string file_digest(const std::string& path);
// Hex digest of values read into memory (grid, times, every field).
std::string input_digest(const InputDataset& input);
std::string stats_digest(const NormalizationStats& stats);

RunFingerprint make_run_fingerprint(const RunSpec& spec, const SamplerConfig& sampler,
                                    int64_t batch, const std::string& checkpoint_digest,
                                    const std::string& stats_digest,
                                    const std::string& input_digest, int64_t init_time_s);

// An identity text's items back, in order (lines without ": " are skipped):
// text() of the result is the text given, for text() outputs.
RunFingerprint parse_run_identity(const std::string& text);
// The value of `key` in an identity text, or "" when absent.
std::string identity_value(const std::string& text, const std::string& key);

// The settings that differ between two identity texts, one "key: A vs B" line
// each (keys present in one only included); empty when they agree.
std::vector<std::string> identity_differences(const std::string& a, const std::string& b);

}  // namespace gencast
