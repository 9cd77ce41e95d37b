#include "io/hdf5_chunk_file.h"

#include <hdf5.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "core/error.h"
#include "io/hdf5_errors.h"

namespace gencast {
namespace {

static_assert(std::is_same_v<hid_t, int64_t>, "HDF5 >= 1.10 has 64-bit ids");
static_assert(std::is_same_v<hsize_t, uint64_t> || sizeof(hsize_t) == sizeof(uint64_t));

// HDF5 1.10 half-frees a file whose close failed (the disk filled up while it
// wrote its metadata, or a flush had failed before) yet keeps its id, and its
// exit-time cleanup then crashes on that id: a segfault after our clean
// error message. Every file is closed explicitly (here, by netCDF-C and by
// NcFile), so the cleanup has nothing else to do: skip it. This has to happen
// before HDF5 initializes (at the program's first netCDF call), hence here,
// at static initialization of the library that writes forecasts.
[[maybe_unused]] const bool kSkipHdf5ExitCleanup = H5dont_atexit() >= 0;

}  // namespace

Hdf5ChunkFile::Hdf5ChunkFile(std::string path) : path_(std::move(path)) {
  silence_hdf5_errors();
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) throw RuntimeFailure(path_ + ": opening with HDF5 failed: " + hdf5_error_text());
  // Strong: H5Fclose also closes every dataset of the file, whatever happened.
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  // The POSIX driver, whatever HDF5_DRIVER says: flush() and abandon() use its
  // file descriptor.
  H5Pset_fapl_sec2(fapl);
  file_ = H5Fopen(path_.c_str(), H5F_ACC_RDWR, fapl);
  H5Pclose(fapl);
  if (file_ < 0) {
    file_ = -1;
    throw RuntimeFailure(path_ + ": opening with HDF5 failed: " + hdf5_error_text());
  }
}

Hdf5ChunkFile::~Hdf5ChunkFile() { abandon(); }

int Hdf5ChunkFile::open_dataset(const std::string& name) {
  silence_hdf5_errors();
  if (file_ < 0) throw std::logic_error("Hdf5ChunkFile::open_dataset after close");
  // No chunk cache: every chunk is written once, directly.
  const hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
  const hid_t ds = H5Dopen2(file_, name.c_str(), dapl);
  H5Pclose(dapl);
  if (ds < 0) {
    throw RuntimeFailure(path_ + ": opening variable " + name + " with HDF5 failed: " +
                         hdf5_error_text());
  }
  datasets_.push_back(ds);
  return static_cast<int>(datasets_.size() - 1);
}

void Hdf5ChunkFile::write_chunk(int dataset, const std::vector<uint64_t>& offset,
                                uint32_t filter_mask, const uint8_t* data, size_t size) {
  silence_hdf5_errors();
  if (dataset < 0 || dataset >= static_cast<int>(datasets_.size())) {
    throw std::logic_error("Hdf5ChunkFile::write_chunk: no such dataset handle");
  }
  std::vector<hsize_t> at(offset.begin(), offset.end());
  if (H5Dwrite_chunk(datasets_[dataset], H5P_DEFAULT, filter_mask, at.data(), size, data) < 0) {
    throw RuntimeFailure(path_ + ": writing a chunk failed: " + hdf5_error_text());
  }
}

void Hdf5ChunkFile::flush() {
  silence_hdf5_errors();
  if (file_ < 0) throw std::logic_error("Hdf5ChunkFile::flush after close");
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) {
    throw RuntimeFailure(path_ + ": flushing failed: " + hdf5_error_text());
  }
  const int fd = descriptor();
  if (fd < 0) {
    throw RuntimeFailure(path_ + ": flushing failed: no file descriptor: " + hdf5_error_text());
  }
  if (::fsync(fd) != 0) {
    throw RuntimeFailure(path_ + ": flushing failed: fsync: " + std::strerror(errno));
  }
}

void Hdf5ChunkFile::close() {
  silence_hdf5_errors();
  if (file_ < 0) return;
  std::string error;
  for (const hid_t ds : datasets_) {
    if (H5Dclose(ds) < 0 && error.empty()) error = hdf5_error_text();
  }
  datasets_.clear();
  if (H5Fclose(file_) < 0 && error.empty()) error = hdf5_error_text();
  // Even a failed H5Fclose has released what it could; the id must not be
  // used again (HDF5 1.10 may have freed the file behind it).
  file_ = -1;
  if (!error.empty()) throw RuntimeFailure(path_ + ": closing the output file failed: " + error);
}

void Hdf5ChunkFile::abandon() noexcept {
  silence_hdf5_errors();
  if (file_ >= 0) {
    // The file is about to be deleted, and a close that writes to failing
    // storage (a full disk) fails and poisons HDF5 (see kSkipHdf5ExitCleanup).
    // So the descriptor is pointed at an anonymous in-memory file first: what
    // HDF5 still writes (some metadata, sparse) goes there and the close
    // succeeds, leaving nothing behind in the library.
    const int fd = descriptor();
    const int sink = fd >= 0 ? ::memfd_create("gencast-abandoned-output", MFD_CLOEXEC) : -1;
    if (sink >= 0) {
      ::dup2(sink, fd);
      ::close(sink);
    }
  }
  for (const hid_t ds : datasets_) H5Dclose(ds);
  datasets_.clear();
  if (file_ >= 0) H5Fclose(file_);
  H5Eclear2(H5E_DEFAULT);
  file_ = -1;
}

int Hdf5ChunkFile::descriptor() const {
  void* handle = nullptr;
  if (file_ < 0 || H5Fget_vfd_handle(file_, H5P_DEFAULT, &handle) < 0 || handle == nullptr) {
    return -1;
  }
  return *static_cast<int*>(handle);  // the sec2 driver's handle is its descriptor
}

}  // namespace gencast
