#include "io/netcdf_plane_reads.h"

#include <netcdf.h>
#include <netcdf_filter.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <exception>

#include "core/parallel.h"
#include "io/chunk_codec.h"
#include "io/hdf5_chunk_reader.h"

namespace gencast {
namespace {

std::atomic<bool> g_parallel_plane_reads{true};

// A pipeline this path decodes: deflate, shuffle, or shuffle then deflate
// (the order netCDF-C writes them in), or nothing.
bool supported_pipeline(const std::vector<int>& filters) {
  if (filters.size() > 2) return false;
  for (size_t i = 0; i < filters.size(); ++i) {
    if (filters[i] != kHdf5DeflateFilter && filters[i] != kHdf5ShuffleFilter) return false;
  }
  return filters.size() < 2 || (filters[0] == kHdf5ShuffleFilter && filters[1] == kHdf5DeflateFilter);
}

// Undoes the filters of one stored chunk (those not skipped per
// `filter_mask`, last applied first) into `out`; false when it does not
// decode to exactly `bytes` bytes.
bool decode_chunk(const std::vector<int>& filters, uint32_t filter_mask,
                  const std::vector<uint8_t>& stored, size_t bytes, ChunkInflater& inflater,
                  std::vector<uint8_t>& scratch, uint8_t* out) {
  const uint8_t* data = stored.data();
  size_t size = stored.size();
  for (size_t k = filters.size(); k-- > 0;) {
    if (filter_mask & (1u << k)) continue;
    uint8_t* to = k == 0 ? out : scratch.data();
    if (to == data) to = to == out ? scratch.data() : out;
    if (filters[k] == kHdf5DeflateFilter) {
      if (!inflater.decompress(data, size, to, bytes)) return false;
    } else {
      if (size != bytes) return false;
      unshuffle_bytes(data, bytes / sizeof(float), sizeof(float), to);
    }
    data = to;
    size = bytes;
  }
  if (size != bytes) return false;
  if (data != out) std::copy_n(data, bytes, out);
  return true;
}

}  // namespace

void PlaneLayout::to_grid(const float* stored, float* dst) const {
  if (lat_first) {  // rows are contiguous: two copies per row, no index arithmetic
    const size_t shift = lon_shift % std::max<size_t>(n_lon, 1);
    for (size_t i = 0; i < n_lat; ++i) {
      const float* row = stored + (flip_lat ? n_lat - 1 - i : i) * n_lon;
      float* out = dst + i * n_lon;
      std::copy(row + shift, row + n_lon, out);
      std::copy(row, row + shift, out + (n_lon - shift));
    }
    return;
  }
  for (size_t i = 0; i < n_lat; ++i) {
    const size_t fi = flip_lat ? n_lat - 1 - i : i;
    for (size_t j = 0; j < n_lon; ++j) {
      const size_t fj = (j + lon_shift) % n_lon;
      dst[i * n_lon + j] = stored[lat_first ? fi * n_lon + fj : fj * n_lat + fi];
    }
  }
}

void set_parallel_plane_reads(bool on) { g_parallel_plane_reads = on; }

bool NetcdfPlaneReads::eligible(const NcVarInfo& var, int root_ncid, int lat_dim, int lon_dim) {
  if (!g_parallel_plane_reads || var.ncid != root_ncid || var.type != NC_FLOAT) return false;
  if constexpr (std::endian::native != std::endian::little) return false;
  if (lat_dim < 0 || lon_dim < 0) return false;
  int storage = 0;
  std::vector<size_t> chunks(var.dims.size());
  if (chunks.empty() || nc_inq_var_chunking(var.ncid, var.varid, &storage, chunks.data()) != NC_NOERR ||
      storage != NC_CHUNKED)
    return false;
  for (size_t d = 0; d < chunks.size(); ++d) {
    const bool plane_dim = static_cast<int>(d) == lat_dim || static_cast<int>(d) == lon_dim;
    if (chunks[d] != (plane_dim ? var.sizes[d] : 1)) return false;
  }
  int fletcher32 = 0, endian = 0;
  if (nc_inq_var_fletcher32(var.ncid, var.varid, &fletcher32) != NC_NOERR || fletcher32 != 0)
    return false;
  if (nc_inq_var_endian(var.ncid, var.varid, &endian) != NC_NOERR ||
      (endian != NC_ENDIAN_NATIVE && endian != NC_ENDIAN_LITTLE))
    return false;
  size_t n_filters = 0;
  if (nc_inq_var_filter_ids(var.ncid, var.varid, &n_filters, nullptr) != NC_NOERR || n_filters > 2)
    return false;
  std::vector<unsigned> ids(n_filters);
  if (n_filters > 0 && nc_inq_var_filter_ids(var.ncid, var.varid, &n_filters, ids.data()) != NC_NOERR)
    return false;
  return std::all_of(ids.begin(), ids.end(), [](unsigned id) {
    return id == static_cast<unsigned>(kHdf5DeflateFilter) || id == static_cast<unsigned>(kHdf5ShuffleFilter);
  });
}

void NetcdfPlaneReads::add(const NcVarInfo& var, const std::vector<size_t>& start, int lat_dim,
                           int lon_dim, const PlaneLayout& layout, float* dst) {
  if (variables_.empty() || variables_.back().name != var.name)
    variables_.push_back(Variable{var.name, NcCfDecoding::of(var), layout});
  Plane plane{variables_.size() - 1, std::vector<uint64_t>(start.begin(), start.end()), dst};
  plane.offset[static_cast<size_t>(lat_dim)] = 0;
  plane.offset[static_cast<size_t>(lon_dim)] = 0;
  planes_.push_back(std::move(plane));
}

std::vector<std::string> NetcdfPlaneReads::run(const std::string& path) {
  std::vector<char> failed(variables_.size(), 0);
  std::vector<std::vector<int>> filters(variables_.size());
  std::vector<std::vector<uint8_t>> stored(planes_.size());
  std::vector<uint32_t> masks(planes_.size(), 0);
  // The stored bytes, on this thread (HDF5 calls stay on one thread); a
  // variable that HDF5 sees differently from netCDF falls back.
  try {
    Hdf5ChunkReader reader(path);
    std::vector<Hdf5ChunkReader::Dataset> datasets(variables_.size());
    for (size_t v = 0; v < variables_.size(); ++v) {
      try {
        datasets[v] = reader.open_dataset(variables_[v].name);
        const PlaneLayout& l = variables_[v].layout;
        uint64_t chunk_values = 1;
        for (uint64_t c : datasets[v].chunk) chunk_values *= c;
        if (!datasets[v].float32_le || chunk_values != l.n_lat * l.n_lon ||
            !supported_pipeline(datasets[v].filters))
          failed[v] = 1;
        filters[v] = datasets[v].filters;
      } catch (const std::exception&) {
        failed[v] = 1;
      }
    }
    for (size_t p = 0; p < planes_.size(); ++p) {
      const size_t v = planes_[p].variable;
      if (failed[v]) continue;
      try {
        reader.read_chunk(datasets[v], planes_[p].offset, stored[p], masks[p]);
      } catch (const std::exception&) {
        failed[v] = 1;
      }
    }
  } catch (const std::exception&) {
    std::fill(failed.begin(), failed.end(), 1);
  }
  // Decoded on every core: one plane per row.
  std::vector<char> bad_plane(planes_.size(), 0);
  parallel_for(
      static_cast<int64_t>(planes_.size()),
      [&](int64_t begin, int64_t end) {
        ChunkInflater inflater;
        std::vector<uint8_t> scratch;
        std::vector<float> values;
        for (int64_t p = begin; p < end; ++p) {
          const Plane& plane = planes_[static_cast<size_t>(p)];
          if (failed[plane.variable]) continue;
          const Variable& var = variables_[plane.variable];
          const size_t n = var.layout.n_lat * var.layout.n_lon;
          values.resize(n);
          scratch.resize(n * sizeof(float));
          if (!decode_chunk(filters[plane.variable], masks[static_cast<size_t>(p)],
                            stored[static_cast<size_t>(p)], n * sizeof(float), inflater, scratch,
                            reinterpret_cast<uint8_t*>(values.data()))) {
            bad_plane[static_cast<size_t>(p)] = 1;
            continue;
          }
          var.cf.apply(values.data(), n);
          var.layout.to_grid(values.data(), plane.dst);
        }
      },
      1);
  for (size_t p = 0; p < planes_.size(); ++p)
    if (bad_plane[p]) failed[planes_[p].variable] = 1;
  std::vector<std::string> fallback;
  for (size_t v = 0; v < variables_.size(); ++v)
    if (failed[v]) fallback.push_back(variables_[v].name);
  return fallback;
}

}  // namespace gencast
