// The .npy format (numpy.lib.format), versions 1-3: header parsing and
// element conversion. The data itself is read by the caller (npz.h) straight
// into its destination buffer, so arrays are never copied twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/array.h"

namespace gencast::npy {

// Element types we accept. bfloat16 arrays (ml_dtypes) are stored by numpy
// as raw 2-byte voids ('<V2'); we read those as bfloat16.
enum class DType { f32, f64, bf16, f16, i32, i64, boolean, unicode };

const char* dtype_name(DType d);

struct Header {
  DType dtype = DType::f32;
  size_t itemsize = 4;       // bytes per element (unicode: 4 * max chars)
  Shape shape;               // () for scalars
  bool fortran_order = false;
  size_t data_offset = 0;    // bytes from the start of the .npy to the data

  int64_t numel() const { return shape_numel(shape); }
  size_t data_bytes() const { return static_cast<size_t>(numel()) * itemsize; }
};

// Parses the magic, version, header length and header dict at the start of
// `bytes` (at least the first 10 + header-length bytes). `context` names the
// file/member for error messages. Throws InputError on anything malformed,
// big-endian, object or otherwise unsupported.
Header parse_header(std::string_view bytes, const std::string& context);

// How many leading bytes parse_header needs: 10 for v1, 12 for v2/v3, plus the
// header length encoded there. Returns 0 if `prefix` is too short to tell.
size_t header_size(std::string_view prefix, const std::string& context);

// Converts `n` elements of a numeric dtype at `src` to float32.
void convert_to_f32(DType dtype, const void* src, float* dst, size_t n);
// Converts `n` numeric elements to double (configs keep full precision).
void convert_to_f64(DType dtype, const void* src, double* dst, size_t n);
// Converts `n` integer/bool elements to int64; throws for floats.
void convert_to_i64(DType dtype, const void* src, int64_t* dst, size_t n,
                    const std::string& context);
// Decodes one numpy unicode element (UTF-32LE, NUL padded) to UTF-8.
std::string decode_unicode(const void* src, size_t itemsize);

}  // namespace gencast::npy
