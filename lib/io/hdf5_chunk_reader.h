// Reading the stored (still filtered) bytes of chunks straight out of the
// datasets of an HDF5 / NetCDF-4 file (H5Dread_chunk), bypassing HDF5's
// single-threaded filter pipeline: the caller decodes them on many cores
// (io/netcdf_plane_reads.h). The read-side twin of io/hdf5_chunk_file.h.
//
// Links the serial HDF5 (pkg-config hdf5-serial), the library libnetcdf
// itself uses: one process must never load two HDF5s.
//
// Invariants:
//  - Read-only; every failure is a RuntimeFailure "<file>: <what> failed:
//    <HDF5's innermost message>", and HDF5 never prints its error stack.
//  - Everything opened is closed by the destructor.
//  - Used from one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gencast {

// HDF5's ids of the filters our files use (H5Zpublic.h; netCDF uses the same).
inline constexpr int kHdf5DeflateFilter = 1;
inline constexpr int kHdf5ShuffleFilter = 2;

class Hdf5ChunkReader {
 public:
  // What the caller needs to decode a dataset's chunks itself.
  struct Dataset {
    int handle = -1;
    bool float32_le = false;          // IEEE float32, little-endian
    std::vector<uint64_t> chunk;      // chunk shape; empty unless chunked
    std::vector<int> filters;         // H5Z filter ids, in the order applied on write
  };

  // Opens `path` read-only. RuntimeFailure when it cannot be opened.
  explicit Hdf5ChunkReader(std::string path);
  ~Hdf5ChunkReader();
  Hdf5ChunkReader(const Hdf5ChunkReader&) = delete;
  Hdf5ChunkReader& operator=(const Hdf5ChunkReader&) = delete;

  // Opens dataset `name` of the root group (kept open until destruction).
  Dataset open_dataset(const std::string& name);

  // The stored bytes of the chunk whose first element is `offset` (one entry
  // per dimension) into `bytes` (resized); `filter_mask` bit i set = filter i
  // of the pipeline was skipped for this chunk. RuntimeFailure when the chunk
  // is not stored (never written) or cannot be read.
  void read_chunk(const Dataset& dataset, const std::vector<uint64_t>& offset,
                  std::vector<uint8_t>& bytes, uint32_t& filter_mask);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int64_t file_ = -1;             // hid_t
  std::vector<int64_t> datasets_;  // hid_t, indexed by Dataset::handle
};

}  // namespace gencast
