// Encoding one float32 chunk of a NetCDF-4 variable outside the HDF5 library,
// so that the chunks of a step can be encoded on many cores at once and
// handed to HDF5 ready to store (io/hdf5_chunk_file.h). The bytes are what
// HDF5's own filter pipeline would have stored for a variable defined with
// shuffle + deflate, so every netCDF/HDF5 reader decodes them with its
// built-in filters: no plugin.
//
//  - bitround(): netCDF-C 4.9's NC_QUANTIZE_BITROUND (the quantization
//    nc_def_var_quantize applies when data is written), done here because the
//    data no longer passes through nc_put_vara.
//  - shuffle_bytes(): HDF5's shuffle filter (H5Z_FILTER_SHUFFLE): byte k of
//    every element, then byte k+1, ...; deflate finds far more repeats in the
//    slowly varying sign/exponent bytes when they sit together.
//  - ChunkDeflater: HDF5's deflate filter (H5Z_FILTER_DEFLATE) stores a zlib
//    stream (RFC 1950: header, DEFLATE data, Adler-32); libdeflate writes the
//    same format ~2x faster than zlib and a little smaller at the same level.
//
// The reverse direction, for reading such chunks on many cores
// (io/netcdf_plane_reads.h): unshuffle_bytes() and ChunkInflater.
//
// Invariants: pure functions of their inputs (no global state); a
// ChunkDeflater or ChunkInflater is used by one thread at a time (one per
// parallel range).
#pragma once

#include <cstddef>
#include <cstdint>

#include "config/run_options.h"  // kMaxKeepBits

struct libdeflate_compressor;
struct libdeflate_decompressor;

namespace gencast {

// Rounds every finite value to `keep_bits` (1..23) explicit mantissa bits,
// to nearest with ties away from zero in magnitude, exactly as netCDF-C's
// BitRound: add half of the dropped part's unit to the bit pattern, then clear
// the dropped bits. The relative error is at most 2^-(keep_bits + 1). NaN and
// infinities are kept bit for bit (netCDF skips only the fill value; ours is
// NaN, and a NaN with a high payload would otherwise carry into the sign).
// std::invalid_argument for keep_bits outside 1..23.
void bitround(float* values, size_t count, int keep_bits);

// HDF5 shuffle of `count` elements of `element_size` bytes: out[k * count + i]
// = byte k of element i. `out` holds count * element_size bytes and must not
// overlap `in`.
void shuffle_bytes(const void* in, size_t count, size_t element_size, uint8_t* out);

// The inverse of shuffle_bytes: out[i * element_size + k] = in[k * count + i].
void unshuffle_bytes(const uint8_t* in, size_t count, size_t element_size, void* out);

// A libdeflate decompressor of zlib streams (what HDF5's deflate filter
// stores), ~2-3x faster than zlib's inflate.
class ChunkInflater {
 public:
  ChunkInflater();  // std::bad_alloc when out of memory
  ~ChunkInflater();
  ChunkInflater(const ChunkInflater&) = delete;
  ChunkInflater& operator=(const ChunkInflater&) = delete;

  // Decompresses the zlib stream in[0, size) into exactly `expected` bytes
  // at `out`; false when the stream is corrupt (bad data or checksum) or
  // does not hold exactly `expected` bytes.
  bool decompress(const uint8_t* in, size_t size, uint8_t* out, size_t expected);

 private:
  libdeflate_decompressor* decompressor_ = nullptr;
};

// A libdeflate compressor at one level, producing zlib streams.
class ChunkDeflater {
 public:
  // level 1..12 (libdeflate's range; 1-9 mean what zlib's levels mean).
  // std::invalid_argument outside it; std::bad_alloc when out of memory.
  explicit ChunkDeflater(int level);
  ~ChunkDeflater();
  ChunkDeflater(const ChunkDeflater&) = delete;
  ChunkDeflater& operator=(const ChunkDeflater&) = delete;

  // Compresses `size` bytes into out[0, capacity): the stream's length, or 0
  // when it does not fit (incompressible data: HDF5's own filter then stores
  // the chunk unfiltered, and so does the writer).
  size_t compress(const uint8_t* in, size_t size, uint8_t* out, size_t capacity);

 private:
  libdeflate_compressor* compressor_ = nullptr;
};

}  // namespace gencast
