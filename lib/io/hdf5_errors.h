// HDF5's error reporting, shared by the code that calls HDF5 directly
// (io/hdf5_chunk_file.*, io/hdf5_chunk_reader.*): HDF5 prints its error
// stack to stderr unless told not to, per thread in the thread-safe build
// (netCDF-C silences only the threads it runs on), and its messages are long
// stacks whose innermost entry is the useful part.
#pragma once

#include <string>

namespace gencast {

// Stops HDF5 printing its error stack on the calling thread.
void silence_hdf5_errors();

// The innermost (most specific) message of this thread's HDF5 error stack,
// e.g. "File too large" out of a write error's long description; the stack
// is cleared. A failed system call gives its strerror text.
std::string hdf5_error_text();

}  // namespace gencast
