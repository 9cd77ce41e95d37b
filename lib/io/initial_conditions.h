// The one entry point for reading initial conditions, whatever the format:
// input.path names one NetCDF file, or one or more GRIB files (ERA5 as CDS
// and MARS deliver it, often pressure-level and single-level fields in two
// files). The format is told by content ("GRIB" at the start of the file) or,
// for GRIB files with a leading header, by a .grib/.grib2/.grb/.grb2 name;
// anything else goes to the NetCDF reader, whose messages say what it found.
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"
#include "core/error.h"
#include "io/netcdf_input.h"

namespace gencast {

enum class InputFileFormat { netcdf, grib };
InputFileFormat detect_input_format(const std::string& path);

// As read_input_dataset / check_input_dataset / read_input_grid
// (io/netcdf_input.h) for `paths`. InputError when several files are given
// and one of them is not GRIB (only GRIB fields can be spread over files).
InputDataset read_initial_conditions(const std::vector<std::string>& paths,
                                     const TaskConfig& task, const std::string& init_time = "");
void check_initial_conditions(const std::vector<std::string>& paths, const TaskConfig& task,
                              const std::string& init_time, ProblemList& problems);
InputGrid read_initial_grid(const std::vector<std::string>& paths);

}  // namespace gencast
