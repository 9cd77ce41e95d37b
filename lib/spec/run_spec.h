// The run spec: everything one `gencast-run forecast` needs to know, one struct
// per YAML section, every field with its default and unit.
//
// Invariants of a RunSpec returned by resolve_run_spec / load_run_spec
// (spec_loader.h): it was built defaults -> file -> command-line overrides and
// validated once; every path is absolute and lexically normal; the required
// paths are non-empty; forecast.member_ids holds the ids that will run (one or
// more, distinct, each fitting in 32 bits) and forecast.members is their count;
// output.ensemble_dim is resolved (never empty). Consumers take it by const
// reference and never re-validate.
#pragma once

#include <chrono>
#include <filesystem>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/device_name.h"
#include "config/model_config.h"  // SamplerConfig
#include "config/precision.h"
#include "config/run_options.h"

namespace gencast {

// One model step advances the forecast by 12 hours.
inline constexpr int64_t kHoursPerStep = 12;
// Member ids are folded into the 64-bit run seed as 32-bit values.
inline constexpr int64_t kMaxMemberId = 4294967295;
// Each member is a full forecast; the cap catches typos (members: 80000000)
// before an id list of that size is built.
inline constexpr int64_t kMaxMembers = 100000;
// A forecast longer than this (about 137 years) is certainly a typo, and the
// cap keeps steps * 12 h far from overflowing.
inline constexpr int64_t kMaxSteps = 100000;

// How the processor's k-hop attention is computed. All exact modes compute
// the same function; `automatic` lets the runtime pick the fastest for the
// device (the checkpoint's splash_mha is TPU-only and is always replaced).
enum class AttentionMode { automatic, triblockdiag, sparse, dense };

struct ModelSection {
  std::string checkpoint;  // absolute path of the checkpoint .npz (required)
  std::string stats_dir;   // absolute folder with the *_by_level.nc files (required)
  AttentionMode attention = AttentionMode::automatic;
  Precision precision = Precision::fp32;  // matmul precision on the device
  bool operator==(const ModelSection&) const = default;
};

struct InputSection {
  // Absolute path of the source file (required): NetCDF or GRIB, told apart
  // by content (io/initial_conditions.h).
  std::string path;
  // Further GRIB files read together with `path`, for ERA5 fields split over
  // several files (CDS delivers pressure-level and single-level fields
  // separately). YAML: `path: [pl.grib, sfc.grib]`; CLI: --input repeated.
  std::vector<std::string> extra_paths;
  std::vector<std::string> paths() const;  // path, then extra_paths
  // Initialisation time, UTC, whole seconds. Empty = the latest time in the
  // file that has the frame 12 h earlier too.
  std::optional<std::chrono::sys_seconds> init_time;
  bool operator==(const InputSection&) const = default;
};

struct ForecastSection {
  int64_t steps = 30;               // number of 12 h model steps (30 = 15 days)
  int64_t members = 8;              // number of ensemble members run
  std::vector<int64_t> member_ids;  // ids run; member i's noise depends on (seed, i) only
  uint64_t seed = 0;                // run seed, 64-bit unsigned
  int64_t lead_time_hours() const { return steps * kHoursPerStep; }
  bool operator==(const ForecastSection&) const = default;
};

// Optional overrides of the checkpoint's sampler_config; unset = checkpoint value.
struct SamplerSection {
  std::optional<int64_t> num_noise_levels;              // count (>= 1)
  std::optional<double> stochastic_churn_rate;          // dimensionless (>= 0)
  std::optional<double> churn_min_noise_level;          // sigma (>= 0)
  std::optional<double> churn_max_noise_level;          // sigma (>= 0, may be inf)
  std::optional<double> noise_level_inflation_factor;   // dimensionless (> 0)
  std::optional<double> max_noise_level;                // sigma (> 0)
  std::optional<double> min_noise_level;                // sigma (> 0)
  std::optional<double> rho;                            // schedule exponent (> 0)
  bool any() const;
  bool operator==(const SamplerSection&) const = default;
};

struct OutputSection {
  std::string path;  // absolute path of the forecast NetCDF (required)
  OutputLayout layout = OutputLayout::predictions;
  std::string ensemble_dim;            // NetCDF dimension name of the members
  std::vector<std::string> variables;  // target variables written; empty = all
  int64_t compression = 1;             // zlib deflate level 0..9 (0 = none)
  int64_t keep_bits = 0;  // BitRound to 1..23 float32 mantissa bits; 0 = lossless (key absent)
  // File format of the output. When the spec and the flags leave it out, the
  // output name's extension decides (.grib/.grib2/.grb/.grb2 -> grib).
  OutputFormat format = OutputFormat::netcdf;
  GribPacking grib_packing = GribPacking::simple;  // GRIB output only
  bool overwrite = false;  // replace an existing output file (else refused before any work)
  // Write the quick-look PNG (runtime/plot_maps.h, default variable and lead)
  // next to the output when the forecast is complete.
  bool plot = false;
  // Continue the partial output an interrupted run left (OUT.partial), else
  // start afresh; with a complete OUT of the same run: nothing to do.
  bool resume = false;
  bool operator==(const OutputSection&) const = default;
};

struct RuntimeSection {
  // "auto" (the first usable GPU, else the CPU, which auto refuses for grids
  // of 1 degree or finer), or canonical "cpu" / "cuda:N".
  std::string device = kAutoDevice;
  // One worker per entry (canonical names, or {"all"} = every GPU); empty =
  // one worker on `device`. Members are handed to workers as they free up;
  // member k's values never depend on which worker ran it.
  std::vector<std::string> devices;
  // Members per denoiser call on each worker (kBatchAuto = chosen from the
  // free device memory). Values agree across batch sizes within the
  // precision's verify tolerance, and are bitwise equal at a fixed batch.
  int64_t batch = kBatchAuto;
  // The devices the run's workers use: `devices`, or {device} when empty.
  std::vector<std::string> worker_devices() const;
  // Cache the edge embeddings on the device (faster, more memory): auto = when
  // the cache takes at most a quarter of the device's free memory.
  EdgeCache edge_cache = EdgeCache::automatic;
  // Check the NetCDF statistics and input files in a child process (same
  // reads, a time limit) before this process reads them, so that a corrupt
  // file that crashes or hangs the NetCDF/HDF5 library becomes an input error
  // (io/file_probe.h). false: trusted files, read directly.
  bool probe_inputs = true;
  bool operator==(const RuntimeSection&) const = default;
};

struct RunSpec {
  ModelSection model;
  InputSection input;
  ForecastSection forecast;
  SamplerSection sampler;
  OutputSection output;
  RuntimeSection runtime;
  // Where the spec came from (spec file path or "built-in demo spec"), for
  // messages. Not part of the run: operator== ignores it so that a spec
  // re-read from its own to_yaml() text compares equal.
  std::string source;

  bool operator==(const RunSpec& other) const;
};

// ---- names of enumerated values, as written in YAML and on the command line ----
const char* attention_mode_name(AttentionMode mode);  // "auto", "triblockdiag", ...

std::optional<AttentionMode> parse_attention_mode(std::string_view text);
// ISO 8601 date-time, UTC: YYYY-MM-DD[(T| )HH[:MM[:SS]]][Z]. Calendar-checked.
std::optional<std::chrono::sys_seconds> parse_init_time(std::string_view text);
// "2019-03-29T12:00:00" (no zone suffix; always UTC).
std::string format_init_time(std::chrono::sys_seconds time);

// Text of configs/demo.yaml, compiled in (a test keeps the two identical).
std::string_view builtin_demo_spec_yaml();

// The data folder the built-in demo spec resolves its paths against (it lives
// in <dir>/configs/) and make-demo reads its fixture from: $GENCAST_DEMO_DIR
// when set, else share/gencast-run beside the executable's folder
// (core/install_paths.h). InputError naming both when that folder is missing.
std::filesystem::path demo_root_dir();

// The checkpoint's sampler config with the spec's sampler overrides applied.
// Throws InputError (naming spec.source and the sampler keys) when the merged
// values are inconsistent, e.g. min_noise_level >= max_noise_level.
SamplerConfig merge_sampler_config(const SamplerConfig& from_checkpoint, const RunSpec& spec);

}  // namespace gencast
