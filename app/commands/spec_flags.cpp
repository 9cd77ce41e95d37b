// The override flags shared by forecast and check-config. Only the syntax is
// checked here (CLI11 rejects "abc" for --steps; a bad --seed is an
// InputError); ranges and names are checked by lib/spec with the same rules
// as the spec file.
#include "commands/spec_flags.h"
#include "config/precision.h"

#include "core/error.h"

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gencast::app {
namespace {

constexpr const char* kGroup = "Run spec overrides (win over the spec file)";

// A flag that sets `target` only when given, so unset flags leave the file alone.
template <class T>
void optional_flag(CLI::App& cmd, const std::string& name, std::optional<T>& target,
                   const std::string& help) {
  cmd.add_option_function<T>(name, [&target](const T& value) { target = value; }, help)
      ->group(kGroup);
}

template <class T>
void list_flag(CLI::App& cmd, const std::string& name, std::optional<std::vector<T>>& target,
               const std::string& help) {
  cmd.add_option_function<std::vector<T>>(
         name, [&target](const std::vector<T>& value) { target = value; }, help)
      ->delimiter(',')
      ->group(kGroup);
}

// CLI11 2.1 reads "-1" into a uint64_t as 2^64-1; the seed is parsed here
// instead, with the spec file's syntax (decimal or 0x hex).
void seed_flag(CLI::App& cmd, std::optional<uint64_t>& target) {
  cmd.add_option_function<std::string>(
         "--seed",
         [&target](const std::string& text) {
           std::string_view digits = text;
           int base = 10;
           if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
             digits.remove_prefix(2);
             base = 16;
           }
           uint64_t value = 0;
           const auto res =
               std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
           if (digits.empty() || res.ec != std::errc() ||
               res.ptr != digits.data() + digits.size())
             fail_input("command line", "--seed", "an unsigned 64-bit integer", "'" + text + "'");
           target = value;
         },
         "forecast.seed: unsigned 64-bit run seed")
      ->type_name("UINT")
      ->group(kGroup);
}

}  // namespace

void add_spec_override_flags(CLI::App& cmd, SpecOverrides& o) {
  optional_flag(cmd, "--checkpoint", o.checkpoint, "model.checkpoint: checkpoint .npz");
  optional_flag(cmd, "--stats-dir", o.stats_dir,
                "model.stats_dir: folder with the *_by_level.nc statistics");
  // Repeatable, one path each time (no comma splitting: paths may hold commas).
  cmd.add_option_function<std::vector<std::string>>(
         "--input",
         [&o](const std::vector<std::string>& paths) { o.input = paths; },
         "input.path: source NetCDF or GRIB file; repeat it for GRIB split over files")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->type_name("PATH")
      ->group(kGroup);
  optional_flag(cmd, "--init-time", o.init_time,
                "input.init_time: ISO 8601 UTC, e.g. 2019-03-29T12:00 (\"\" = latest)");
  optional_flag(cmd, "--output", o.output,
                "output.path: forecast file to write (.grib/.grib2 names write GRIB)");
  optional_flag(cmd, "--steps", o.steps, "forecast.steps: number of 12 h steps");
  optional_flag(cmd, "--lead-time", o.lead_time,
                "forecast.lead_time: e.g. 15d or 360h (a multiple of 12 h)");
  optional_flag(cmd, "--members", o.members, "forecast.members: ensemble size N (members 0..N-1)");
  list_flag(cmd, "--member-ids", o.member_ids,
            "forecast.member_ids: comma list, e.g. 0,1,2 (for split runs)");
  seed_flag(cmd, o.seed);
  optional_flag(cmd, "--device", o.device,
                "runtime.device: auto (the first usable GPU, else the CPU; default), cpu or cuda:N");
  list_flag(cmd, "--devices", o.devices,
            "runtime.devices: one worker per device, e.g. cuda:0,cuda:1 (a device may repeat), or all");
  optional_flag(cmd, "--precision", o.precision, "model.precision: " + precision_choices());
  optional_flag(cmd, "--attention", o.attention,
                "model.attention: auto, triblockdiag, sparse or dense");
  optional_flag(cmd, "--layout", o.layout, "output.layout: predictions or wb2");
  optional_flag(cmd, "--format", o.format,
                "output.format: netcdf or grib (default: from the output name, else netcdf)");
  optional_flag(cmd, "--grib-packing", o.grib_packing,
                "output.grib_packing: simple (16 bits per value) or ieee (32-bit floats, exact)");
  optional_flag(cmd, "--batch", o.batch,
                "runtime.batch: members per denoiser call, auto (from free memory) or N");
  optional_flag(cmd, "--edge-cache", o.edge_cache,
                "runtime.edge_cache: auto, on or off (keep edge embeddings on the device)");
  list_flag(cmd, "--variables", o.variables, "output.variables: comma list of target variables");
  optional_flag(cmd, "--compression", o.compression, "output.compression: zlib level 0-9");
  optional_flag(cmd, "--keep-bits", o.keep_bits,
                "output.keep_bits: BitRound to 1-23 float32 mantissa bits (lossy; default lossless)");
  cmd.add_flag("--overwrite", o.overwrite,
               "output.overwrite: replace an existing output file (and discard a partial one)")
      ->group(kGroup);
  cmd.add_flag("--resume", o.resume,
               "output.resume: continue the partial output of an interrupted run (else start)")
      ->group(kGroup);
  cmd.add_flag("--plot", o.plot,
               "output.plot: also write a quick-look PNG map next to the output (see `plot`)")
      ->group(kGroup);
  cmd.add_flag("--no-probe", o.no_probe,
               "runtime.probe_inputs: false: read trusted NetCDF files without first checking "
               "them in a child process")
      ->group(kGroup);
}

}  // namespace gencast::app
