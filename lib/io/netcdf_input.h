// Reading ERA5-style initial conditions (DeepMind's
// source-era5_date-..._res-1.0_levels-13_steps-NN.nc layout) into one
// normalised in-memory form, validating everything the model needs.
//
// Accepted file layouts: dims (batch=1, time, level, lat, lon) in any order,
// with or without the batch dim; `time` as timedelta plus a `datetime`
// coordinate ((batch, time) or (time)), or `time` itself as CF datetimes;
// horizontal axes named lat/lon or latitude/longitude (WeatherBench2);
// latitude ascending or descending; longitude 0..360 or -180..180; extra
// variables and extra levels are ignored; CF packing and fill values decoded.
// The grid must be equiangular with poles: lat from -90 to 90 in equal steps,
// n_lon = 2 * (n_lat - 1) equal steps around the circle.
//
// Invariants of an InputDataset: no batch dim, lat ascending from -90, lon
// ascending from 0 in [0, 360), only the task's pressure levels (task order),
// only the input frames (oldest first, 12 h apart, the last is the
// initialisation time), only input variables. Only sea_surface_temperature
// may hold NaN (over land).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "core/array.h"
#include "core/error.h"
#include "io/netcdf_util.h"

namespace gencast {

struct InputDataset {
  std::string path;
  std::vector<float> lat, lon;    // degrees, float32 as in the file
  std::vector<int64_t> levels;    // hPa, the task's pressure levels
  std::vector<int64_t> times_s;   // unix seconds of each frame
  // Time-varying variables: [time, (level,) lat, lon]; statics: [lat, lon].
  std::map<std::string, ArrayF> fields;

  int64_t n_lat() const { return static_cast<int64_t>(lat.size()); }
  int64_t n_lon() const { return static_cast<int64_t>(lon.size()); }
  int64_t n_grid() const { return n_lat() * n_lon(); }
  // The field of `name`; RuntimeFailure if absent.
  const ArrayF& field(const std::string& name) const;
};

// Reads the task's input frames ending at `init_time` (ISO-8601; empty = the
// latest time that has all earlier frames, 12 h apart). InputError listing
// every problem found (each names the file and the variable or coordinate).
InputDataset read_input_dataset(const std::string& path, const TaskConfig& task,
                                const std::string& init_time = "");
// Same validation, adding every problem to `problems` instead of throwing.
void check_input_dataset(const std::string& path, const TaskConfig& task,
                         const std::string& init_time, ProblemList& problems);

// The normalised grid of an input file (latitude ascending from -90, longitude
// from 0), without reading any field: what the graph needs, in milliseconds.
// InputError naming the file and coordinate when the grid is unusable.
struct InputGrid {
  std::vector<float> lat, lon;
};
InputGrid read_input_grid(const std::string& path);

// Unix seconds of every time entry of an input file (no field is read).
std::vector<int64_t> read_input_times(const std::string& path);

// Index in `times_s` of the initialisation frame for `n_frames` input frames
// 12 h apart: the frame at `init_time`, or for an empty string the latest
// frame whose n_frames-1 predecessors (12 h apart) are all present.
// InputError (naming `path` and "time") when that is impossible.
int64_t select_init_index(const std::vector<int64_t>& times_s, int n_frames,
                          const std::string& init_time, const std::string& path);
// The same on a dataset, with the dataset's own frames.
int64_t select_init_time(const InputDataset& dataset, const std::string& init_time,
                         int n_frames = 2);

}  // namespace gencast
