// Command-line overrides of the run spec. Every field is optional: set means
// "the user passed this flag", and it wins over the spec file. Relative paths
// given here resolve against the current directory (the file's own relative
// paths resolve against the file's folder). Values are checked with the same
// rules as the file; problems name the flag (e.g. "--steps") and the file
// "command line".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gencast {

struct SpecDraft;  // spec_loader.h

struct SpecOverrides {
  std::optional<std::string> checkpoint;   // --checkpoint PATH
  std::optional<std::string> stats_dir;    // --stats-dir DIR
  std::optional<std::vector<std::string>> input;  // --input PATH (repeated: several GRIB files)
  std::optional<std::string> init_time;    // --init-time ISO8601 ("" = latest)
  std::optional<std::string> output;       // --output PATH
  std::optional<int64_t> steps;            // --steps N (12 h steps)
  std::optional<std::string> lead_time;    // --lead-time 15d | 360h
  std::optional<int64_t> members;          // --members N
  std::optional<std::vector<int64_t>> member_ids;  // --member-ids 0,1,2
  std::optional<uint64_t> seed;            // --seed N
  std::optional<std::string> device;       // --device cpu | cuda:N
  std::optional<std::vector<std::string>> devices;  // --devices cuda:0,cuda:1 | all
  std::optional<std::string> batch;        // --batch auto | N
  std::optional<std::string> precision;    // --precision fp32 | tf32 | bf16
  std::optional<std::string> attention;    // --attention auto | triblockdiag | sparse | dense
  std::optional<std::string> layout;       // --layout predictions | wb2
  std::optional<std::string> edge_cache;   // --edge-cache auto | on | off
  std::optional<std::string> format;       // --format netcdf | grib
  std::optional<std::string> grib_packing; // --grib-packing simple | ieee
  std::optional<std::vector<std::string>> variables;  // --variables a,b,c
  std::optional<int64_t> compression;      // --compression 0..9
  std::optional<int64_t> keep_bits;        // --keep-bits 1..23
  bool overwrite = false;                  // --overwrite
  bool plot = false;                       // --plot
  bool resume = false;                     // --resume
  bool no_probe = false;                   // --no-probe (runtime.probe_inputs: false)

  bool empty() const;
};

// Applies `overrides` on top of a parsed spec. Relative paths resolve against
// `cwd`. The forecast length is replaced as a whole (--steps or --lead-time,
// not both); --members replaces the file's members and member_ids, and
// --member-ids replaces both. Problems go into draft.problems.
void apply_overrides(SpecDraft& draft, const SpecOverrides& overrides,
                     const std::filesystem::path& cwd);

}  // namespace gencast
