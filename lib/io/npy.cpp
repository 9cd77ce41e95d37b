#include "io/npy.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <regex>

#include "core/error.h"

namespace gencast::npy {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// numpy writes headers of a few hundred bytes; a length field claiming more
// than this is corruption, refused before a buffer of that size is made.
constexpr size_t kMaxHeaderBytes = size_t{1} << 20;
// No array of a GenCast checkpoint comes near this (the largest holds ~40 MB):
// a declared shape beyond it is corruption, refused before any allocation.
constexpr uint64_t kMaxArrayBytes = uint64_t{1} << 40;
// Characters of a numpy unicode element ('<U14'): configs hold short strings.
constexpr uint64_t kMaxUnicodeChars = uint64_t{1} << 20;

uint16_t read_u16le(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}
uint32_t read_u32le(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

float bf16_to_f32(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

// Maps a numpy descr string ('<f4', '|b1', '<U14', '<V2') to our dtype.
void parse_descr(const std::string& descr, Header& h, const std::string& context) {
  const std::string expected = "a little-endian float32/float64/bfloat16/float16/int32/int64/"
                               "bool or unicode array";
  if (descr.size() < 2) fail_input(context, "npy descr", expected, "'" + descr + "'");
  const char order = descr[0];
  const std::string code = descr.substr(1);
  if (order == '>') {
    fail_input(context, "npy descr", expected, "big-endian '" + descr + "'",
               "re-save the array as little-endian (arr.astype(arr.dtype.newbyteorder('<')))");
  }
  if (code == "O") {
    fail_input(context, "npy descr", expected, "an object array ('" + descr + "')",
               "object arrays need pickle and are refused; store plain arrays");
  }
  if (code == "f4") { h.dtype = DType::f32; h.itemsize = 4; return; }
  if (code == "f8") { h.dtype = DType::f64; h.itemsize = 8; return; }
  if (code == "f2") { h.dtype = DType::f16; h.itemsize = 2; return; }
  if (code == "V2") { h.dtype = DType::bf16; h.itemsize = 2; return; }
  if (code == "i4") { h.dtype = DType::i32; h.itemsize = 4; return; }
  if (code == "i8") { h.dtype = DType::i64; h.itemsize = 8; return; }
  if (code == "b1") { h.dtype = DType::boolean; h.itemsize = 1; return; }
  if (code[0] == 'U') {
    h.dtype = DType::unicode;
    const std::string digits = code.substr(1);
    uint64_t chars = 0;
    const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), chars);
    if (digits.empty() || res.ec != std::errc() || res.ptr != digits.data() + digits.size() ||
        chars > kMaxUnicodeChars)
      fail_input(context, "npy descr", expected, "'" + descr + "'");
    h.itemsize = static_cast<size_t>(4 * chars);
    return;
  }
  fail_input(context, "npy descr", expected, "unsupported dtype '" + descr + "'");
}

// The dims of "(3, 4)" etc.; the total size is checked by parse_header.
Shape parse_shape(const std::string& text, const std::string& context) {
  // Anything but digits, commas, spaces and parentheses is malformed.
  if (text.find_first_not_of("0123456789, ()L") != std::string::npos)
    fail_input(context, "npy shape", "a tuple of integers", "'" + text + "'");
  Shape shape;
  static const std::regex number(R"(\d+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number);
       it != std::sregex_iterator(); ++it) {
    const std::string digits = it->str();
    int64_t dim = 0;
    const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), dim);
    if (res.ec != std::errc())
      fail_input(context, "npy shape", "dimensions that fit in 64 bits", "'" + text + "'");
    shape.push_back(dim);
  }
  return shape;
}

// Refuses shapes whose data would exceed kMaxArrayBytes (overflow-safe).
void check_data_size(const Header& h, const std::string& context) {
  uint64_t bytes = h.itemsize;
  for (const int64_t d : h.shape) {
    const auto dim = static_cast<uint64_t>(d);
    if (dim != 0 && bytes > kMaxArrayBytes / dim) {
      fail_input(context, "npy shape", "an array of at most 1 TiB",
                 "shape " + shape_to_string(h.shape) + " of " + std::to_string(h.itemsize) +
                     "-byte elements",
                 "the header is corrupt");
    }
    bytes *= dim;
  }
}

}  // namespace

const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::boolean: return "bool";
    case DType::unicode: return "unicode";
  }
  return "?";
}

size_t header_size(std::string_view prefix, const std::string& context) {
  if (prefix.size() < 10) return 0;
  if (prefix.substr(0, 6) != kMagic)
    fail_input(context, "npy magic", "\\x93NUMPY", "other bytes (not a .npy array)");
  const int major = static_cast<uint8_t>(prefix[6]);
  if (major == 1) return 10 + read_u16le(prefix.data() + 8);
  if (major == 2 || major == 3) {
    if (prefix.size() < 12) return 0;
    const size_t length = read_u32le(prefix.data() + 8);
    if (length > kMaxHeaderBytes)
      fail_input(context, "npy header", "a header of at most 1 MiB",
                 std::to_string(length) + " bytes", "the header length field is corrupt");
    return 12 + length;
  }
  fail_input(context, "npy version", "1, 2 or 3", std::to_string(major));
}

Header parse_header(std::string_view bytes, const std::string& context) {
  const size_t total = header_size(bytes, context);
  if (total == 0 || bytes.size() < total)
    fail_input(context, "npy header", "a complete header", "a truncated one");
  const size_t start = static_cast<uint8_t>(bytes[6]) == 1 ? 10 : 12;
  const std::string dict(bytes.substr(start, total - start));

  static const std::regex descr_re(R"('descr'\s*:\s*'([^']*)')");
  static const std::regex fortran_re(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex shape_re(R"('shape'\s*:\s*\(([^)]*)\))");
  std::smatch m;
  Header h;
  if (!std::regex_search(dict, m, descr_re))
    fail_input(context, "npy header", "a 'descr' entry", "'" + dict + "'");
  parse_descr(m[1].str(), h, context);
  if (!std::regex_search(dict, m, fortran_re))
    fail_input(context, "npy header", "a 'fortran_order' entry", "'" + dict + "'");
  h.fortran_order = m[1].str() == "True";
  if (!std::regex_search(dict, m, shape_re))
    fail_input(context, "npy header", "a 'shape' entry", "'" + dict + "'");
  h.shape = parse_shape(m[1].str(), context);
  check_data_size(h, context);
  if (h.fortran_order && h.shape.size() > 1)
    fail_input(context, "npy fortran_order", "C order (False)", "True",
               "re-save with np.ascontiguousarray");
  h.data_offset = total;
  return h;
}

void convert_to_f32(DType dtype, const void* src, float* dst, size_t n) {
  const auto* b = static_cast<const char*>(src);
  switch (dtype) {
    case DType::f32: std::memcpy(dst, src, n * 4); return;
    case DType::f64:
      for (size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, b + 8 * i, 8);
        dst[i] = static_cast<float>(v);
      }
      return;
    case DType::bf16:
    case DType::f16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, b + 2 * i, 2);
        dst[i] = dtype == DType::bf16 ? bf16_to_f32(v) : f16_to_f32(v);
      }
      return;
    case DType::i32:
      for (size_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, b + 4 * i, 4);
        dst[i] = static_cast<float>(v);
      }
      return;
    case DType::i64:
      for (size_t i = 0; i < n; ++i) {
        int64_t v;
        std::memcpy(&v, b + 8 * i, 8);
        dst[i] = static_cast<float>(v);
      }
      return;
    case DType::boolean:
      for (size_t i = 0; i < n; ++i) dst[i] = b[i] ? 1.f : 0.f;
      return;
    case DType::unicode: break;
  }
  throw RuntimeFailure("npy: cannot convert unicode data to numbers");
}

void convert_to_f64(DType dtype, const void* src, double* dst, size_t n) {
  if (dtype == DType::f64) {
    std::memcpy(dst, src, n * 8);
    return;
  }
  if (dtype == DType::i64) {
    const auto* b = static_cast<const char*>(src);
    for (size_t i = 0; i < n; ++i) {
      int64_t v;
      std::memcpy(&v, b + 8 * i, 8);
      dst[i] = static_cast<double>(v);
    }
    return;
  }
  std::vector<float> tmp(n);
  convert_to_f32(dtype, src, tmp.data(), n);
  for (size_t i = 0; i < n; ++i) dst[i] = tmp[i];
}

void convert_to_i64(DType dtype, const void* src, int64_t* dst, size_t n,
                    const std::string& context) {
  const auto* b = static_cast<const char*>(src);
  for (size_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::i64: std::memcpy(&dst[i], b + 8 * i, 8); break;
      case DType::i32: {
        int32_t v;
        std::memcpy(&v, b + 4 * i, 4);
        dst[i] = v;
        break;
      }
      case DType::boolean: dst[i] = b[i] ? 1 : 0; break;
      default:
        fail_input(context, "dtype", "an integer array", dtype_name(dtype));
    }
  }
}

std::string decode_unicode(const void* src, size_t itemsize) {
  std::string out;
  const auto* b = static_cast<const unsigned char*>(src);
  for (size_t i = 0; i + 4 <= itemsize; i += 4) {
    const uint32_t cp = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) |
                        (static_cast<uint32_t>(b[i + 3]) << 24);
    if (cp == 0) break;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  return out;
}

}  // namespace gencast::npy
