// The NetCDF-4 forecast sink (io/forecast_sink.h): writes an ensemble forecast, one (member, lead time) field set
// at a time, in one of two layouts:
//
//  - OutputLayout::predictions (default): the reference's `predictions`
//    dataset, so existing xarray notebooks work unchanged. Dims
//    (sample, batch=1, time, [level,] lat, lon); `time` = lead time (CF
//    int64 hours, decodes to timedelta64); coordinate `datetime(batch, time)`
//    = valid time; scalar coordinate `forecast_reference_time` = init time.
//  - OutputLayout::wb2: WeatherBench2's forecast convention. Dims
//    (time=1 (init), prediction_timedelta, number, [level,] latitude, longitude).
//
// Invariants:
//  - The final path appears only after close() succeeded: data goes to
//    "<path>.partial-<pid>" in the same folder and is renamed at the end; a
//    writer destroyed without close() deletes its temporary file.
//  - Values are stored bit-exact as float32 (lossless zlib + shuffle); one
//    chunk = one member x one lead time x one level x the whole lat/lon field.
//  - Members and lead times may be written in any order, each exactly once.
//  - Not thread-safe (neither is netCDF-C): use one writer from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/forecast_sink.h"

namespace gencast {


// Problems with the output path: empty, a folder, parent folder missing or
// not writable. Tries to create (and removes) a probe file in the folder, so
// that read-only mounts are caught even when running as root.
void check_output_path(const std::string& path, ProblemList& problems);

// Every user-facing option problem: the path (as above), `variables` not in
// `target_variables` (the message lists the valid names), compression outside
// 0-9, an ensemble_dim that is not a valid name or clashes with another name.
void check_output_options(const ForecastOutputSpec& spec,
                          const std::vector<std::string>& target_variables, ProblemList& problems);

class NetcdfForecastWriter final : public ForecastSink {
 public:
  // Validates the spec (InputError for user options, std::invalid_argument
  // for an inconsistent grid/channel description), creates the temporary
  // file, defines dims, variables and attributes and writes the coordinates.
  explicit NetcdfForecastWriter(ForecastOutputSpec spec);
  // Removes the temporary file unless close() succeeded.
  ~NetcdfForecastWriter();
  NetcdfForecastWriter(const NetcdfForecastWriter&) = delete;
  NetcdfForecastWriter& operator=(const NetcdfForecastWriter&) = delete;

  // fields: [n_lat * n_lon, channels.size()] float32, grid-node-major
  // (node = ilat * n_lon + ilon), physical units. Indices are positions in
  // member_ids / lead_hours. Each (member, lead) may be written once.
  void write_step(int member_index, int lead_index, const float* fields) override;

  // Checks that every (member, lead) was written, flushes, closes and renames
  // the file to its final path. On any failure the temporary file is deleted
  // and RuntimeFailure is thrown.
  void close() override;

  const std::string& path() const override { return spec_.path; }
  // zlib in netCDF-C runs on one thread: says so when compression is on.
  std::string slow_write_hint() const override;
  const std::string& temp_path() const { return temp_path_; }
  // The variables written, in file order (channel order, filtered).
  const std::vector<std::string>& variables() const { return variable_names_; }

 private:
  // One written channel: its column in `fields`, target variable and level.
  struct ChannelTarget {
    int channel = 0;
    int varid = 0;
    int level = -1;
  };

  void define_file();
  void discard() noexcept;

  ForecastOutputSpec spec_;
  std::string temp_path_;
  int ncid_ = -1;
  bool closed_ = false;
  std::vector<std::string> variable_names_;
  std::vector<ChannelTarget> targets_;
  std::vector<unsigned char> written_;  // [member][lead]
  std::vector<float> scratch_;          // per-target contiguous lat/lon fields
};

}  // namespace gencast
