#include "io/chunk_codec.h"

#include <libdeflate.h>

#include <bit>
#include <new>
#include <stdexcept>
#include <string>

namespace gencast {

void bitround(float* values, size_t count, int keep_bits) {
  if (keep_bits < 1 || keep_bits > kMaxKeepBits) {
    throw std::invalid_argument("bitround: keep_bits " + std::to_string(keep_bits) +
                                " outside 1.." + std::to_string(kMaxKeepBits));
  }
  const int dropped = kMaxKeepBits - keep_bits;
  if (dropped == 0) return;
  const uint32_t keep_mask = ~uint32_t{0} << dropped;
  const uint32_t half = uint32_t{1} << (dropped - 1);
  constexpr uint32_t kExponent = 0x7f800000u;  // all ones: NaN or infinity
  for (size_t i = 0; i < count; ++i) {
    const auto bits = std::bit_cast<uint32_t>(values[i]);
    if ((bits & kExponent) == kExponent) continue;
    // A carry out of the mantissa raises the exponent: the correctly rounded
    // value (up to infinity beyond FLT_MAX, as netCDF does).
    values[i] = std::bit_cast<float>((bits + half) & keep_mask);
  }
}

void shuffle_bytes(const void* in, size_t count, size_t element_size, uint8_t* out) {
  const auto* src = static_cast<const uint8_t*>(in);
  if (element_size == 4) {  // the float32 case, unrolled: one pass over the input
    uint8_t* o0 = out;
    uint8_t* o1 = out + count;
    uint8_t* o2 = out + 2 * count;
    uint8_t* o3 = out + 3 * count;
    for (size_t i = 0; i < count; ++i) {
      o0[i] = src[4 * i];
      o1[i] = src[4 * i + 1];
      o2[i] = src[4 * i + 2];
      o3[i] = src[4 * i + 3];
    }
    return;
  }
  for (size_t k = 0; k < element_size; ++k) {
    for (size_t i = 0; i < count; ++i) out[k * count + i] = src[i * element_size + k];
  }
}

void unshuffle_bytes(const uint8_t* in, size_t count, size_t element_size, void* out) {
  auto* dst = static_cast<uint8_t*>(out);
  if (element_size == 4) {  // float32: one pass over the output
    const uint8_t* i0 = in;
    const uint8_t* i1 = in + count;
    const uint8_t* i2 = in + 2 * count;
    const uint8_t* i3 = in + 3 * count;
    for (size_t i = 0; i < count; ++i) {
      dst[4 * i] = i0[i];
      dst[4 * i + 1] = i1[i];
      dst[4 * i + 2] = i2[i];
      dst[4 * i + 3] = i3[i];
    }
    return;
  }
  for (size_t k = 0; k < element_size; ++k) {
    for (size_t i = 0; i < count; ++i) dst[i * element_size + k] = in[k * count + i];
  }
}

ChunkInflater::ChunkInflater() {
  decompressor_ = libdeflate_alloc_decompressor();
  if (decompressor_ == nullptr) throw std::bad_alloc();
}

ChunkInflater::~ChunkInflater() { libdeflate_free_decompressor(decompressor_); }

bool ChunkInflater::decompress(const uint8_t* in, size_t size, uint8_t* out, size_t expected) {
  size_t produced = 0;
  const libdeflate_result r =
      libdeflate_zlib_decompress(decompressor_, in, size, out, expected, &produced);
  return r == LIBDEFLATE_SUCCESS && produced == expected;
}

ChunkDeflater::ChunkDeflater(int level) {
  if (level < 1 || level > 12) {
    throw std::invalid_argument("ChunkDeflater: level " + std::to_string(level) + " outside 1..12");
  }
  compressor_ = libdeflate_alloc_compressor(level);
  if (compressor_ == nullptr) throw std::bad_alloc();
}

ChunkDeflater::~ChunkDeflater() { libdeflate_free_compressor(compressor_); }

size_t ChunkDeflater::compress(const uint8_t* in, size_t size, uint8_t* out, size_t capacity) {
  return libdeflate_zlib_compress(compressor_, in, size, out, capacity);
}

}  // namespace gencast
