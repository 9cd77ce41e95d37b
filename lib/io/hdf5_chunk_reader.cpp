#include "io/hdf5_chunk_reader.h"

#include <hdf5.h>

#include "core/error.h"
#include "io/hdf5_errors.h"

namespace gencast {

Hdf5ChunkReader::Hdf5ChunkReader(std::string path) : path_(std::move(path)) {
  silence_hdf5_errors();
  file_ = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) {
    file_ = -1;
    throw RuntimeFailure(path_ + ": opening with HDF5 failed: " + hdf5_error_text());
  }
}

Hdf5ChunkReader::~Hdf5ChunkReader() {
  silence_hdf5_errors();
  for (const hid_t ds : datasets_) H5Dclose(ds);
  if (file_ >= 0) H5Fclose(file_);
  H5Eclear2(H5E_DEFAULT);
}

Hdf5ChunkReader::Dataset Hdf5ChunkReader::open_dataset(const std::string& name) {
  silence_hdf5_errors();
  const hid_t ds = H5Dopen2(file_, name.c_str(), H5P_DEFAULT);
  if (ds < 0)
    throw RuntimeFailure(path_ + ": opening variable " + name + " with HDF5 failed: " +
                         hdf5_error_text());
  datasets_.push_back(ds);
  Dataset out;
  out.handle = static_cast<int>(datasets_.size() - 1);
  const hid_t type = H5Dget_type(ds);
  out.float32_le = type >= 0 && H5Tequal(type, H5T_IEEE_F32LE) > 0;
  if (type >= 0) H5Tclose(type);
  const hid_t dcpl = H5Dget_create_plist(ds);
  if (dcpl < 0)
    throw RuntimeFailure(path_ + ": reading the layout of " + name + " failed: " +
                         hdf5_error_text());
  if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
    const int rank = H5Pget_chunk(dcpl, 0, nullptr);
    if (rank > 0) {
      std::vector<hsize_t> dims(static_cast<size_t>(rank));
      H5Pget_chunk(dcpl, rank, dims.data());
      out.chunk.assign(dims.begin(), dims.end());
    }
  }
  const int n_filters = H5Pget_nfilters(dcpl);
  for (int i = 0; i < n_filters; ++i) {
    unsigned flags = 0, config = 0;
    size_t n_values = 0;
    out.filters.push_back(static_cast<int>(
        H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &n_values, nullptr, 0, nullptr, &config)));
  }
  H5Pclose(dcpl);
  H5Eclear2(H5E_DEFAULT);
  return out;
}

void Hdf5ChunkReader::read_chunk(const Dataset& dataset, const std::vector<uint64_t>& offset,
                                 std::vector<uint8_t>& bytes, uint32_t& filter_mask) {
  silence_hdf5_errors();
  if (dataset.handle < 0 || dataset.handle >= static_cast<int>(datasets_.size()))
    throw std::logic_error("Hdf5ChunkReader::read_chunk: no such dataset handle");
  const hid_t ds = datasets_[static_cast<size_t>(dataset.handle)];
  std::vector<hsize_t> at(offset.begin(), offset.end());
  hsize_t stored = 0;
  if (H5Dget_chunk_storage_size(ds, at.data(), &stored) < 0 || stored == 0)
    throw RuntimeFailure(path_ + ": a chunk is not stored: " + hdf5_error_text());
  bytes.resize(stored);
  filter_mask = 0;
  if (H5Dread_chunk(ds, H5P_DEFAULT, at.data(), &filter_mask, bytes.data()) < 0)
    throw RuntimeFailure(path_ + ": reading a chunk failed: " + hdf5_error_text());
}

}  // namespace gencast
