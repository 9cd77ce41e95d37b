// Reading back forecast files this tool wrote (io/netcdf_forecast_writer.h),
// in either layout: what `merge` combines, what `plot` draws and what
// `--resume` continues from. Only our own files are accepted (the global
// attribute gencast_output_layout says so); anything else is an InputError
// naming the file and what is missing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/forecast_sink.h"
#include "io/netcdf_util.h"

namespace gencast {

// A forecast file's structure. `spec` describes it the way a writer would be
// asked to (path = the file read, channels = its variables: one surface
// channel or one per level, in file order; compression = the data's zlib
// level, keep_bits its BitRound), so that a ForecastSink given `spec` (with another path) writes a
// file of the same shape.
struct ForecastFileInfo {
  ForecastOutputSpec spec;
  // Every text global attribute, by name (run_spec, history, fingerprints...).
  std::map<std::string, std::string> attributes;
  // A global text attribute, or "" when absent.
  std::string attribute(const std::string& name) const;
};

class ForecastReader {
 public:
  // Opens and describes the file. InputError (exit 2) when it is not a
  // forecast written by gencast-run.
  explicit ForecastReader(const std::string& path);

  const ForecastFileInfo& info() const { return info_; }
  const std::string& path() const { return file_.path(); }

  // One (member, lead) field set: [n_lat * n_lon, spec.channels.size()]
  // float32, grid-node-major, physical units, NaN where the file holds its
  // fill value; the layout write_step takes.
  void read_step(int member_index, int lead_index, float* fields) const;
  // One channel of one (member, lead): [n_lat * n_lon].
  void read_field(int member_index, int lead_index, int channel, float* field) const;

 private:
  NcFile file_;
  ForecastFileInfo info_;
  std::vector<NcVarInfo> channel_vars_;  // per channel: its variable
};

}  // namespace gencast
