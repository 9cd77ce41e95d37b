// Reading ERA5 initial conditions from GRIB (edition 1 or 2), as CDS and MARS
// deliver them, into the same InputDataset as the NetCDF reader
// (io/netcdf_input.h states its invariants).
//
// What is read: the messages whose paramId and typeOfLevel name a model input
// (io/grib_params.h); all others (tp, extra levels, other parameters) are
// skipped. The fields may be spread over several files in any order, e.g.
// CDS's pressure-level and single-level downloads. Times are the messages'
// validity times, so analyses (step 0) and short forecasts both work. The
// statics (z on the surface, lsm) are taken at the initialisation time when
// present there, else at their latest time.
//
// The grid must be regular_ll, equiangular with poles (as in NetCDF input),
// the same in every message used; ERA5's north-to-south scanning, -180..180
// longitudes and column-major scanning are all normalised. Bitmap-missing
// points become NaN (only sea_surface_temperature may have them).
//
// Problems are reported like the NetCDF reader's: the file, the variable
// (with its GRIB shortName), what was expected and what was found.
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"
#include "core/error.h"
#include "io/netcdf_input.h"  // InputDataset, InputGrid

namespace gencast {

// True when the file's first bytes are a GRIB message ("GRIB").
bool starts_with_grib(const std::string& path);

InputDataset read_grib_input(const std::vector<std::string>& paths, const TaskConfig& task,
                             const std::string& init_time = "");
void check_grib_input(const std::vector<std::string>& paths, const TaskConfig& task,
                      const std::string& init_time, ProblemList& problems);
// The normalised grid of the first input message (no values decoded).
InputGrid read_grib_input_grid(const std::vector<std::string>& paths);

}  // namespace gencast
