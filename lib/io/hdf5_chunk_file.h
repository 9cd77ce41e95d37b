// Writing ready-encoded chunks straight into the datasets of an existing
// HDF5 file (H5Dwrite_chunk), bypassing HDF5's single-threaded filter
// pipeline: the NetCDF-4 forecast writer defines the file with netCDF-C,
// closes it, reopens it here and stores chunks that io/chunk_codec.h encoded
// on many cores.
//
// Links the serial HDF5 (pkg-config hdf5-serial), the library libnetcdf
// itself uses: one process must never load two HDF5s.
//
// Invariants:
//  - Every failure is a RuntimeFailure "<file>: <what> failed: <HDF5's
//    innermost message>"; HDF5 never prints its error stack (silenced on every
//    thread that calls in: the stack is per thread in the thread-safe build).
//  - abandon() never fails and leaves nothing open in the HDF5 library, also
//    when the storage fails (a full disk): HDF5's last writes go to an
//    anonymous in-memory file instead.
//  - No HDF5 crash at exit after a failed close or flush: HDF5's exit-time
//    cleanup, which would trip over such a file, is switched off for the
//    process (every file is closed explicitly anyway).
//  - Used from one thread at a time (the HDF5 build is thread-safe, but the
//    writer keeps its calls on its own thread anyway).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gencast {

class Hdf5ChunkFile {
 public:
  // Opens `path` (an HDF5 / NetCDF-4 file) for writing. RuntimeFailure when
  // it cannot be opened.
  explicit Hdf5ChunkFile(std::string path);
  // abandon()s a file that was not closed.
  ~Hdf5ChunkFile();
  Hdf5ChunkFile(const Hdf5ChunkFile&) = delete;
  Hdf5ChunkFile& operator=(const Hdf5ChunkFile&) = delete;

  // Opens dataset `name` (kept open until close) and returns its handle for
  // write_chunk. RuntimeFailure when there is none.
  int open_dataset(const std::string& name);

  // Stores one chunk: `offset` = the chunk's first element, one entry per
  // dimension; `filter_mask` bit i set = filter i of the dataset's pipeline
  // was skipped (0 = all applied); `data` = the filtered bytes.
  void write_chunk(int dataset, const std::vector<uint64_t>& offset, uint32_t filter_mask,
                   const uint8_t* data, size_t size);

  // Writes HDF5's cached metadata to the file and fsyncs it: everything
  // written so far is readable by another process, also after a kill -9 or a
  // power loss.
  void flush();

  // Flushes and closes; RuntimeFailure on failure (the file is closed anyway
  // as far as HDF5 can).
  void close();
  // Closes without writing anything more to the file, and without reporting
  // errors: it is about to be deleted.
  void abandon() noexcept;

  const std::string& path() const { return path_; }

 private:
  int descriptor() const;  // of the open file, -1 if none

  std::string path_;
  int64_t file_ = -1;               // hid_t
  std::vector<int64_t> datasets_;   // hid_t, indexed by open_dataset's handle
};

}  // namespace gencast
