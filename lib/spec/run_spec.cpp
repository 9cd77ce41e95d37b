// RunSpec value helpers: names of enumerated values, device and time syntax,
// merging the sampler overrides into the checkpoint's sampler config, and the
// built-in demo spec (the run used when no spec file is given).
#include "spec/run_spec.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/install_paths.h"

namespace gencast {
namespace {

// Parses exactly `width` decimal digits at text[pos...]; nullopt otherwise.
std::optional<int> fixed_digits(std::string_view text, size_t pos, size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

}  // namespace

bool SamplerSection::any() const {
  return num_noise_levels || stochastic_churn_rate || churn_min_noise_level ||
         churn_max_noise_level || noise_level_inflation_factor || max_noise_level ||
         min_noise_level || rho;
}

std::vector<std::string> InputSection::paths() const {
  std::vector<std::string> out{path};
  out.insert(out.end(), extra_paths.begin(), extra_paths.end());
  return out;
}

std::vector<std::string> RuntimeSection::worker_devices() const {
  return devices.empty() ? std::vector<std::string>{device} : devices;
}

bool RunSpec::operator==(const RunSpec& other) const {
  return model == other.model && input == other.input && forecast == other.forecast &&
         sampler == other.sampler && output == other.output && runtime == other.runtime;
}

const char* attention_mode_name(AttentionMode mode) {
  switch (mode) {
    case AttentionMode::automatic: return "auto";
    case AttentionMode::triblockdiag: return "triblockdiag";
    case AttentionMode::sparse: return "sparse";
    case AttentionMode::dense: return "dense";
  }
  return "?";
}

std::optional<AttentionMode> parse_attention_mode(std::string_view text) {
  for (auto mode : {AttentionMode::automatic, AttentionMode::triblockdiag, AttentionMode::sparse,
                    AttentionMode::dense}) {
    if (text == attention_mode_name(mode)) return mode;
  }
  return std::nullopt;
}

std::optional<std::chrono::sys_seconds> parse_init_time(std::string_view text) {
  using namespace std::chrono;
  if (!text.empty() && (text.back() == 'Z' || text.back() == 'z')) text.remove_suffix(1);
  // Date part: YYYY-MM-DD.
  const auto y = fixed_digits(text, 0, 4);
  const auto mo = fixed_digits(text, 5, 2);
  const auto d = fixed_digits(text, 8, 2);
  if (!y || !mo || !d || text[4] != '-' || text[7] != '-') return std::nullopt;
  int hh = 0, mm = 0, ss = 0;
  if (text.size() > 10) {
    if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return std::nullopt;
    const auto h = fixed_digits(text, 11, 2);
    if (!h) return std::nullopt;
    hh = *h;
    size_t pos = 13;
    for (int* field : {&mm, &ss}) {
      if (pos == text.size()) break;
      const auto v = fixed_digits(text, pos + 1, 2);
      if (text[pos] != ':' || !v) return std::nullopt;
      *field = *v;
      pos += 3;
    }
    if (pos != text.size()) return std::nullopt;
  } else if (text.size() != 10) {
    return std::nullopt;
  }
  const year_month_day date{year{*y}, month{static_cast<unsigned>(*mo)},
                            day{static_cast<unsigned>(*d)}};
  if (!date.ok() || hh > 23 || mm > 59 || ss > 59) return std::nullopt;
  return sys_days{date} + hours{hh} + minutes{mm} + seconds{ss};
}

std::string format_init_time(std::chrono::sys_seconds time) {
  using namespace std::chrono;
  const sys_days day_start = floor<days>(time);
  const year_month_day date{day_start};
  const hh_mm_ss<seconds> clock{time - day_start};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02ld:%02ld:%02ld", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long>(clock.hours().count()),
                static_cast<long>(clock.minutes().count()),
                static_cast<long>(clock.seconds().count()));
  return buf;
}

SamplerConfig merge_sampler_config(const SamplerConfig& from_checkpoint, const RunSpec& spec) {
  const SamplerSection& s = spec.sampler;
  SamplerConfig merged = from_checkpoint;
  if (s.num_noise_levels) merged.num_noise_levels = *s.num_noise_levels;
  if (s.stochastic_churn_rate) merged.stochastic_churn_rate = *s.stochastic_churn_rate;
  if (s.churn_min_noise_level) merged.churn_min_noise_level = *s.churn_min_noise_level;
  if (s.churn_max_noise_level) merged.churn_max_noise_level = *s.churn_max_noise_level;
  if (s.noise_level_inflation_factor)
    merged.noise_level_inflation_factor = *s.noise_level_inflation_factor;
  if (s.max_noise_level) merged.max_noise_level = *s.max_noise_level;
  if (s.min_noise_level) merged.min_noise_level = *s.min_noise_level;
  if (s.rho) merged.rho = *s.rho;

  // Pairs whose order matters only once both values are known (one may come
  // from the checkpoint), so they are checked here and not by the loader.
  ProblemList problems;
  const auto origin = [&](bool from_spec) {
    return from_spec ? std::string("(run spec)") : std::string("(checkpoint)");
  };
  if (!(merged.min_noise_level < merged.max_noise_level)) {
    problems.add(spec.source, "sampler.min_noise_level / sampler.max_noise_level",
                 "min_noise_level < max_noise_level",
                 format_number(merged.min_noise_level) + " " +
                     origin(s.min_noise_level.has_value()) + " and " +
                     format_number(merged.max_noise_level) + " " +
                     origin(s.max_noise_level.has_value()));
  }
  if (!(merged.churn_min_noise_level <= merged.churn_max_noise_level)) {
    problems.add(spec.source, "sampler.churn_min_noise_level / sampler.churn_max_noise_level",
                 "churn_min_noise_level <= churn_max_noise_level",
                 format_number(merged.churn_min_noise_level) + " " +
                     origin(s.churn_min_noise_level.has_value()) + " and " +
                     format_number(merged.churn_max_noise_level) + " " +
                     origin(s.churn_max_noise_level.has_value()));
  }
  problems.throw_if_any();
  return merged;
}

std::string_view builtin_demo_spec_yaml() {
  // Must stay byte-identical to configs/demo.yaml ([spec] test checks it).
  static constexpr std::string_view kDemo = R"yaml(# Demo run spec: the tiny random-weights fixture model on the CPU.
#
# This is what `gencast-run forecast` runs when no spec file is given (the
# text is compiled into the binary). It needs no downloads: the model,
# statistics and input are the reference fixtures in tests/data/gencast_tiny/.
# The weights are random, so the forecast has no meteorological value; the
# demo shows the pipeline end to end in seconds.
#
# Relative paths below resolve against this file's folder (configs/). When
# the spec is the built-in one, they resolve against the data folder's
# configs/ (share/gencast-run/configs/ beside the executable's bin/ folder, a
# copy of this folder; $GENCAST_DEMO_DIR/configs/ when that variable is set)
# and output.path resolves against the current directory.
model:
  checkpoint: ../tests/data/gencast_tiny/tiny_checkpoint.npz
  stats_dir: ../tests/data/gencast_tiny   # mean/stddev/diffs_stddev/min_by_level.nc
  attention: auto                         # auto | triblockdiag | sparse | dense
  precision: fp32                         # the CPU backend computes in float32
input:
  path: ../tests/data/gencast_tiny/source_tiny.nc
  init_time: ""                           # "" = latest time with the frame 12 h earlier
forecast:
  steps: 2                                # 12 h steps: a 24 h forecast
  members: 2                              # ensemble members 0 and 1
  seed: 0                                 # run seed (unsigned 64-bit)
output:
  path: gencast-demo-forecast.nc
  layout: predictions                     # predictions | wb2
  compression: 1                          # zlib level 0-9
  overwrite: true                         # the demo replaces its own output
runtime:
  device: cpu
  edge_cache: auto
)yaml";
  return kDemo;
}

std::filesystem::path demo_root_dir() {
  if (const char* env = std::getenv("GENCAST_DEMO_DIR"); env && *env) return std::filesystem::absolute(env);
  const std::filesystem::path dir = bundled_data_dir();
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec))
    fail_input(dir.empty() ? std::string("share/gencast-run") : dir.string(), "GENCAST_DEMO_DIR",
               "the gencast-run data folder (share/gencast-run next to the bin/ folder of the "
               "executable; it holds configs/ and tests/data/gencast_tiny/)",
               "no such folder",
               "install with `cmake --install BUILD --prefix P` and run P/bin/gencast-run, pass a "
               "run spec file, or set GENCAST_DEMO_DIR to a folder laid out like the source tree");
  return dir;
}

}  // namespace gencast
