// Combining forecast files of one run into one ensemble file: the parts of
// separate jobs (a Slurm array of `--member-ids` runs) or of MPI ranks
// (cluster/mpi_forecast.h). The parts must be the same run — the same run
// identity (runtime/run_fingerprint.h: checkpoint, stats, input, init time,
// seed, steps, precision, sampler...) and the same structure (grid, lead
// times, variables, levels, layout) — with disjoint members; anything else
// is refused before any data is copied (InputError, exit 2, naming the two
// files and what differs). Only `batch` may differ, with a warning: members
// grouped differently agree within the precision's tolerance, not bitwise.
//
// The values are copied bit for bit (float32, NaN where the parts hold their
// fill value) through the sink factory (runtime/output_sinks.h), so the
// output options (format, compression, layout) apply, and the output appears
// only when complete (temporary file + rename). The parts are NetCDF files
// (io/forecast_reader.h); the output may be any format the sinks know.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/run_options.h"

namespace gencast {

struct MergeOptions {
  std::vector<std::string> parts;  // forecast files written by gencast-run
  std::string output;              // the ensemble file to write
  bool overwrite = false;          // replace an existing output (else refused, exit 2)
  OutputFormat format = OutputFormat::netcdf;
  GribPacking grib_packing = GribPacking::simple;  // GRIB output only
  std::optional<int64_t> compression;  // zlib level 0-9; unset = the first part's
  // BitRound mantissa bits (output.keep_bits); unset = the first part's (none
  // for GRIB, which packs its own way). Rounding rounded values changes nothing.
  std::optional<int64_t> keep_bits;
  std::optional<OutputLayout> layout;  // unset = the parts' layout
  // The output's member order; empty = sorted by id. When set it must hold
  // exactly the parts' members (an MPI run keeps its spec's order).
  std::vector<int64_t> member_order;
  // Newest line of the output's `history`; the parts' own lines follow it
  // when keep_part_history (an MPI run's parts only repeat its command).
  std::string command_line;
  bool keep_part_history = true;
  // The output's run_spec attribute; "" = the first part's, with its member
  // list and output path set to the merged file's.
  std::string run_spec_yaml;
  // Seconds between progress lines (at least one line at the end).
  double progress_seconds = 5;
};

struct MergeResult {
  std::string output;
  int64_t parts = 0, members = 0, member_steps = 0;
  double bytes = 0;    // float32 field bytes copied
  // Parts whose stored chunks were copied as they are (same layout,
  // compression, keep_bits and variables as the output); the others were
  // decoded and encoded again.
  int64_t parts_copied_as_stored = 0;
  double seconds = 0;  // reading, checking, copying and closing
  std::vector<std::string> warnings;
};

// Checks the parts against each other and writes the merged file.
// InputError: no parts, a file that is not a gencast-run forecast, parts of
// different runs or shapes, a member in two parts, an existing output without
// `overwrite`, an output that is one of the parts. RuntimeFailure: I/O
// failures, an interrupt (the temporary file is removed).
MergeResult merge_forecasts(const MergeOptions& options);

}  // namespace gencast
