// A hook called just before a reader opens a file (NcFile::open_read, the
// GRIB reader): the file probe's child process (io/file_probe.h) uses it to
// tell its parent which file, read by which library, it was on if it crashes.
#pragma once

#include <string>

namespace gencast {

// `library` names what reads the file ("NetCDF/HDF5", "ecCodes (GRIB)").
using FileOpenObserver = void (*)(const std::string& path, const char* library);

// nullptr (the default) = no observer. Not thread-safe: set once, at start-up.
void set_file_open_observer(FileOpenObserver observer);
void notify_file_open(const std::string& path, const char* library);

}  // namespace gencast
