// Where a forecast goes: the runner hands finished (member, lead time) field
// sets to a ForecastSink and never knows the file format. NetCDF
// (io/netcdf_forecast_writer.h) is the first implementation; a new format is
// a new sink class here in io/, one OutputFormat value (config/run_options.h)
// and one branch of the sink factory (runtime/output_sinks.h).
//
// Contract of every sink:
//  - The final path appears only after close() succeeded; a sink destroyed
//    without close() or suspend() leaves nothing behind (temporary file removed).
//  - Members and lead times may be written in any order, each exactly once.
//  - Not thread-safe: one sink is used from one thread (runtime's
//    AsyncForecastWriter gives it a thread of its own).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/run_options.h"
#include "config/stacking.h"  // ChannelSlot

namespace gencast {

// What a forecast file holds, whatever its format.
struct ForecastOutputSpec {
  std::string path;  // final file name
  OutputLayout layout = OutputLayout::predictions;
  std::string ensemble_dim;            // member dim name, "" = default_ensemble_dim
  std::vector<std::string> variables;  // subset of the target variables, empty = all
  int64_t compression = 1;             // deflate level 0-9, 0 = uncompressed (NetCDF)
  int64_t keep_bits = 0;               // BitRound to 1-23 mantissa bits; 0 = lossless (NetCDF)
  GribPacking grib_packing = GribPacking::simple;  // GRIB sink only
  std::vector<float> lat;              // degrees north, ascending
  std::vector<float> lon;              // degrees east
  std::vector<int64_t> levels;         // hPa, in channel level-index order
  int64_t init_time_s = 0;             // init time, unix seconds (UTC)
  std::vector<int64_t> lead_hours;     // 12, 24, ... strictly increasing
  std::vector<int64_t> member_ids;     // values of the member coordinate
  // The columns of write_step's fields, e.g. target_channels(task): `level`
  // indexes `levels` (-1 = surface variable); `time` is ignored.
  std::vector<ChannelSlot> channels;
  std::string model_description, model_license;  // from the checkpoint
  std::string run_spec_yaml;                     // the resolved run spec
  std::string command_line;                      // for the `history` attribute
  std::string tool_version;                      // "" = this build's version
  std::string spec_file = "run spec";            // where the options came from, for messages
  // The run's identity (runtime/run_fingerprint.h): a digest and its
  // "key: value" text, stored so that merge and resume can check parts and
  // partial files belong to the same run. Empty = not recorded.
  std::string run_fingerprint, run_identity;
};

// Global attributes holding ForecastOutputSpec::run_fingerprint / run_identity.
inline constexpr const char* kFingerprintAttribute = "gencast_run_fingerprint";
inline constexpr const char* kIdentityAttribute = "gencast_run_identity";

class ForecastSink {
 public:
  virtual ~ForecastSink() = default;
  ForecastSink() = default;
  ForecastSink(const ForecastSink&) = delete;
  ForecastSink& operator=(const ForecastSink&) = delete;

  // fields: [n_lat * n_lon, channels.size()] float32, grid-node-major
  // (node = ilat * n_lon + ilon), physical units. Indices are positions in
  // member_ids / lead_hours. Each (member, lead) may be written once.
  virtual void write_step(int member_index, int lead_index, const float* fields) = 0;
  // Checks that every (member, lead) was written, finishes the file and moves
  // it to its final path; RuntimeFailure (temporary file removed) otherwise.
  virtual void close() = 0;
  // Makes everything written so far durable: readable by a later process
  // even after a kill -9 or a power loss. A resumable run's step journal
  // (io/step_journal.h) records a step only after this returned. Sinks of
  // formats that cannot be resumed (runtime/output_sinks.h) may do nothing.
  virtual void flush() {}
  // Flushes and closes the temporary file but keeps it, for a later run to
  // continue (--resume), instead of deleting it. Only for resumable formats.
  virtual void suspend() { throw std::logic_error("suspend(): this output format cannot be resumed"); }
  virtual const std::string& path() const = 0;
  // What makes this sink slow and how to speed it up, for the one-time
  // warning when the forecast waits for it ("" = nothing to suggest).
  virtual std::string slow_write_hint() const { return ""; }
};

}  // namespace gencast
