// Reading the latitude-longitude planes of NetCDF-4 input fields on many
// cores. netCDF-C reads through HDF5's filter pipeline on one thread: at
// 0.25° a compressed initial condition (~170 planes of 1 M values) spends
// seconds in zlib's inflate, on the critical path of a forecast's start-up.
// When a variable is stored one whole plane per chunk (the layout of ERA5
// NetCDF-4 files, of make-demo's and of our own outputs) and filtered only by
// shuffle and deflate, its chunks are read as stored (io/hdf5_chunk_reader.h)
// and decoded here in parallel with libdeflate (io/chunk_codec.h): the same
// bytes HDF5 would have produced, so the same values bit for bit.
//
// Use: while netCDF has the file open, check eligible() per variable and
// add() the planes it needs (CF decoding and grid reordering fixed then);
// after netCDF closed it, run() does every read. A variable whose planes
// cannot be done this way (a chunk that fails to decode, an HDF5 view of the
// file that differs from netCDF's) is returned by run() for the caller to
// read the ordinary way, which reports the problem as netCDF sees it.
//
// Invariants: results do not depend on the worker count; run() touches only
// the planes' destinations; set_parallel_plane_reads(false) makes
// eligible() false everywhere (tests compare both paths).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/netcdf_util.h"

namespace gencast {

// Where the values of one stored (lat, lon) or (lon, lat) plane go in the
// model's grid: lat-major rows, latitude ascending, longitude from 0.
struct PlaneLayout {
  size_t n_lat = 0, n_lon = 0;
  bool flip_lat = false;   // the file's latitude descends
  size_t lon_shift = 0;    // grid lon index j reads file index (j + shift) % n_lon
  bool lat_first = true;   // the file's plane is (lat, lon), else (lon, lat)

  // dst[i * n_lon + j] = the stored plane's value at grid (i, j).
  void to_grid(const float* stored, float* dst) const;
};

// Switches the parallel path on or off for the whole process (default on).
void set_parallel_plane_reads(bool on);

class NetcdfPlaneReads {
 public:
  // True when `var` (in the root group) can be read by this path: float32,
  // little-endian, chunks of exactly one whole (lat_dim, lon_dim) plane, no
  // filter but shuffle and deflate, no checksum.
  static bool eligible(const NcVarInfo& var, int root_ncid, int lat_dim, int lon_dim);

  // Queues the plane of `var` whose other indices are `start` (lat and lon
  // entries ignored), to be decoded, CF-decoded and reordered into `dst`
  // (n_lat * n_lon floats, alive until run() returns).
  void add(const NcVarInfo& var, const std::vector<size_t>& start, int lat_dim, int lon_dim,
           const PlaneLayout& layout, float* dst);

  bool empty() const { return planes_.empty(); }

  // Reads every queued plane of file `path` (which netCDF must have closed);
  // returns the names of the variables that could not be read this way, in
  // the order they were added.
  std::vector<std::string> run(const std::string& path);

 private:
  struct Plane {
    size_t variable;                 // index into variables_
    std::vector<uint64_t> offset;    // the chunk's first element
    float* dst;
  };
  struct Variable {
    std::string name;
    NcCfDecoding cf;
    PlaneLayout layout;
  };
  std::vector<Variable> variables_;
  std::vector<Plane> planes_;
};

}  // namespace gencast
