#include "io/initial_conditions.h"

#include "io/grib_input.h"

namespace gencast {
namespace {

// The format of every path; InputError for several files that are not all GRIB.
InputFileFormat format_of(const std::vector<std::string>& paths) {
  if (paths.empty()) fail_input("", "input.path", "a source file", "no path");
  if (paths.size() == 1) return detect_input_format(paths.front());
  for (const auto& path : paths)
    if (detect_input_format(path) != InputFileFormat::grib)
      fail_input(path, "input.path", "GRIB files only when input.path lists several files",
                 "a file that is not GRIB (NetCDF input is one file)",
                 "give the NetCDF file alone, or convert it");
  return InputFileFormat::grib;
}

}  // namespace

InputFileFormat detect_input_format(const std::string& path) {
  if (starts_with_grib(path)) return InputFileFormat::grib;
  const auto dot = path.find_last_of('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "grib" || ext == "grib2" || ext == "grb" || ext == "grb2" || ext == "GRIB" ||
      ext == "GRB")
    return InputFileFormat::grib;
  return InputFileFormat::netcdf;
}

InputDataset read_initial_conditions(const std::vector<std::string>& paths,
                                     const TaskConfig& task, const std::string& init_time) {
  if (format_of(paths) == InputFileFormat::grib) return read_grib_input(paths, task, init_time);
  return read_input_dataset(paths.front(), task, init_time);
}

void check_initial_conditions(const std::vector<std::string>& paths, const TaskConfig& task,
                              const std::string& init_time, ProblemList& problems) {
  InputFileFormat format = InputFileFormat::netcdf;
  const size_t before = problems.size();
  problems.collect([&] { format = format_of(paths); });
  if (problems.size() != before) return;
  if (format == InputFileFormat::grib) return check_grib_input(paths, task, init_time, problems);
  check_input_dataset(paths.front(), task, init_time, problems);
}

InputGrid read_initial_grid(const std::vector<std::string>& paths) {
  if (format_of(paths) == InputFileFormat::grib) return read_grib_input_grid(paths);
  return read_input_grid(paths.front());
}

}  // namespace gencast
