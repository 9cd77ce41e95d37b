// `gencast-run merge PART.nc... -o ENSEMBLE.nc`: combine the member files of
// one run (separate `--member-ids` jobs, a Slurm array) into one ensemble
// file. The checks and the copy are in lib (runtime/forecast_merge.h).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands/commands.h"
#include "config/run_options.h"
#include "core/error.h"
#include "runtime/forecast_merge.h"

namespace gencast::app {

void register_merge_command(CLI::App& root, CommandResult& result) {
  struct Args {
    std::vector<std::string> parts;
    std::string output;
    bool overwrite = false;
    std::optional<int64_t> compression;
    std::optional<std::string> format, layout, grib_packing;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = root.add_subcommand(
      "merge", "Combine the member files of one run (separate --member-ids jobs) into one "
               "ensemble file; parts of different runs are refused");
  cmd->add_option("parts", args->parts, "forecast files written by gencast-run (same run)")
      ->required();
  cmd->add_option("-o,--output", args->output, "the ensemble file to write")->required();
  cmd->add_flag("--overwrite", args->overwrite, "replace an existing output file");
  cmd->add_option_function<int64_t>(
      "--compression", [args](const int64_t& level) { args->compression = level; },
      "zlib level 0-9 (default: the first part's)");
  cmd->add_option_function<std::string>(
      "--format", [args](const std::string& format) { args->format = format; },
      std::string("output format: ") + kOutputFormatChoices +
          " (default: from the output's extension, else netcdf)");
  cmd->add_option_function<std::string>(
      "--layout", [args](const std::string& layout) { args->layout = layout; },
      "output layout: predictions or wb2 (default: the parts')");
  cmd->add_option_function<std::string>(
      "--grib-packing", [args](const std::string& packing) { args->grib_packing = packing; },
      std::string("GRIB output: ") + kGribPackingChoices);
  cmd->callback([args, &result] {
    MergeOptions options;
    options.parts = args->parts;
    options.output = args->output;
    options.overwrite = args->overwrite;
    options.compression = args->compression;
    // As for forecast: the output's extension decides when --format is not
    // given, and a --format that contradicts it is refused.
    const auto by_name = output_format_from_extension(args->output);
    options.format = by_name.value_or(OutputFormat::netcdf);
    if (args->format) {
      const auto format = parse_output_format(*args->format);
      if (!format)
        fail_input("command line", "--format", kOutputFormatChoices, "'" + *args->format + "'");
      if (by_name && *by_name != *format)
        fail_input("command line", "--format",
                   std::string("a format that matches the output name (") +
                       output_format_name(*by_name) + ")",
                   output_format_name(*format), "name the output with the format's extension");
      options.format = *format;
    }
    if (args->grib_packing) {
      const auto packing = parse_grib_packing(*args->grib_packing);
      if (!packing)
        fail_input("command line", "--grib-packing", kGribPackingChoices,
                   "'" + *args->grib_packing + "'");
      options.grib_packing = *packing;
    }
    if (args->layout) {
      const auto layout = parse_output_layout(*args->layout);
      if (!layout) fail_input("command line", "--layout", "predictions or wb2", "'" + *args->layout + "'");
      options.layout = *layout;
    }
    options.command_line = result.command_line;
    merge_forecasts(options);
  });
}

}  // namespace gencast::app
