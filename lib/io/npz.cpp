#include "io/npz.h"

#include <zip.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace gencast {
namespace {

constexpr const char* kNpySuffix = ".npy";

std::string zip_error_text(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string text = zip_error_strerror(&err);
  zip_error_fini(&err);
  return text;
}

// True if the file starts with a zip local-file or end-of-archive signature.
bool starts_like_zip(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char magic[4] = {0, 0, 0, 0};
  const size_t got = std::fread(magic, 1, 4, f);
  std::fclose(f);
  return got == 4 && magic[0] == 'P' && magic[1] == 'K' &&
         ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6));
}

// UTF-8 -> UTF-32LE code units as numpy stores '<U' strings. Invalid bytes
// are kept as their Latin-1 code points rather than dropped.
std::string utf8_to_utf32le(const std::string& text, size_t* chars) {
  std::string out;
  *chars = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char lead = s[i];
    const size_t len = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    bool valid = len > 1 && i + len <= n;
    for (size_t k = 1; valid && k < len; ++k) valid = (s[i + k] & 0xc0u) == 0x80u;
    uint32_t cp = lead;
    if (valid) {
      cp = lead & (0x7fu >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    for (int b = 0; b < 4; ++b) out += static_cast<char>((cp >> (8 * b)) & 0xffu);
    ++*chars;
    i += valid ? len : 1;
  }
  return out;
}

// RAII for an open archive member.
struct MemberFile {
  zip_file_t* file = nullptr;
  ~MemberFile() {
    if (file) zip_fclose(file);
  }
};

}  // namespace

NpzReader::NpzReader(std::string path) : path_(std::move(path)) {
  if (!std::filesystem::exists(path_))
    fail_input(path_, "", "an existing .npz file", "no such file");
  int code = 0;
  archive_ = zip_open(path_.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!archive_) {
    std::string found = zip_error_text(code);
    if (code == ZIP_ER_NOZIP) {
      // libzip says "not a zip" both for other files and for zips that lost
      // their end (central directory): the leading magic tells them apart.
      found = starts_like_zip(path_) ? "a damaged zip archive (its end is missing; truncated "
                                       "download or copy?)"
                                     : "not a zip archive (wrong magic bytes)";
    }
    if (code == ZIP_ER_INCONS || code == ZIP_ER_EOF || code == ZIP_ER_READ)
      found = "a damaged zip archive (" + zip_error_text(code) + "; truncated download?)";
    fail_input(path_, "", "a numpy .npz archive", found);
  }
  const zip_int64_t n = zip_get_num_entries(archive_, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(archive_, static_cast<zip_uint64_t>(i), 0);
    if (!name) continue;
    std::string key = name;
    const size_t suffix = std::strlen(kNpySuffix);
    if (key.size() > suffix && key.compare(key.size() - suffix, suffix, kNpySuffix) == 0)
      key.resize(key.size() - suffix);
    index_[key] = i;
    keys_.push_back(std::move(key));
  }
}

NpzReader::~NpzReader() {
  if (archive_) zip_discard(archive_);
}

npy::Header NpzReader::read_raw(const std::string& key, std::vector<char>* raw, void* direct,
                                size_t direct_bytes) const {
  auto it = index_.find(key);
  if (it == index_.end()) fail_input(path_, key, "this member in the archive", "it is missing");
  const auto idx = static_cast<zip_uint64_t>(it->second);
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(archive_, idx, 0, &st) != 0)
    fail_input(path_, key, "a readable member", zip_strerror(archive_));
  MemberFile mf;
  mf.file = zip_fopen_index(archive_, idx, 0);
  if (!mf.file) fail_input(path_, key, "a readable member", zip_strerror(archive_));

  auto read_exact = [&](void* dst, size_t bytes, const char* what) {
    size_t got = 0;
    while (got < bytes) {
      const zip_int64_t r = zip_fread(mf.file, static_cast<char*>(dst) + got, bytes - got);
      if (r < 0) fail_input(context(key), what, "readable data", zip_file_strerror(mf.file));
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    if (got != bytes)
      fail_input(context(key), what, std::to_string(bytes) + " bytes",
                 std::to_string(got) + " bytes (member truncated)");
  };

  // Header: the fixed prefix first, then the rest once its length is known.
  std::string head(12, '\0');
  const size_t prefix = st.size >= 12 ? 12 : static_cast<size_t>(st.size);
  read_exact(head.data(), prefix, "npy header");
  head.resize(prefix);
  const size_t total = npy::header_size(head, context(key));
  if (total == 0 || total > st.size)
    fail_input(context(key), "npy header", "a complete header", "a truncated one");
  head.resize(total);
  read_exact(head.data() + prefix, total - prefix, "npy header");
  npy::Header h = npy::parse_header(head, context(key));

  const size_t bytes = h.data_bytes();
  check_member_size(key, h);
  if (direct && direct_bytes == bytes) {
    read_exact(direct, bytes, "npy data");
  } else {
    raw->resize(bytes);
    read_exact(raw->data(), bytes, "npy data");
  }
  // libzip compares the member's CRC-32 when a read reaches its end: one more
  // read gets there, so a corrupted member is an error, not silently wrong values.
  char past_end = 0;
  const zip_int64_t tail = zip_fread(mf.file, &past_end, 1);
  if (tail != 0)
    fail_input(context(key), "npy data", "data matching the member's CRC-32",
               tail < 0 ? std::string(zip_file_strerror(mf.file)) : "more bytes than its size",
               "the archive is corrupt: re-download it");
  return h;
}

void NpzReader::check_member_size(const std::string& key, const npy::Header& h) const {
  auto it = index_.find(key);
  if (it == index_.end()) fail_input(path_, key, "this member in the archive", "it is missing");
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(archive_, static_cast<zip_uint64_t>(it->second), 0, &st) != 0)
    fail_input(path_, key, "a readable member", zip_strerror(archive_));
  const uint64_t want = h.data_offset + h.data_bytes();
  if (st.size != want)
    fail_input(context(key), "npy data",
               std::to_string(want) + " bytes for shape " + shape_to_string(h.shape),
               std::to_string(st.size) + " bytes");
  // Deflate expands at most 1032-fold: a member claiming more than that of
  // its compressed size (a zip bomb, or a corrupt directory) is refused
  // before a buffer of the claimed size is made.
  if ((st.valid & ZIP_STAT_COMP_SIZE) && st.size > 1032 * st.comp_size + 4096)
    fail_input(context(key), "npy data",
               "at most 1032 bytes per compressed byte (" + std::to_string(st.comp_size) +
                   " compressed)",
               std::to_string(st.size) + " bytes claimed", "the archive is corrupt");
}

npy::Header NpzReader::header(const std::string& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) fail_input(path_, key, "this member in the archive", "it is missing");
  MemberFile mf;
  mf.file = zip_fopen_index(archive_, static_cast<zip_uint64_t>(it->second), 0);
  if (!mf.file) fail_input(path_, key, "a readable member", zip_strerror(archive_));
  std::string head(12, '\0');
  zip_int64_t got = zip_fread(mf.file, head.data(), 12);
  head.resize(got > 0 ? static_cast<size_t>(got) : 0);
  const size_t total = npy::header_size(head, context(key));
  if (total == 0) fail_input(context(key), "npy header", "a complete header", "a truncated one");
  const size_t have = head.size();
  head.resize(total);
  got = zip_fread(mf.file, head.data() + have, total - have);
  if (got < 0 || static_cast<size_t>(got) != total - have)
    fail_input(context(key), "npy header", "a complete header", "a truncated one");
  return npy::parse_header(head, context(key));
}

ArrayF NpzReader::read_f32(const std::string& key) const {
  const npy::Header h = header(key);
  if (h.dtype == npy::DType::unicode)
    fail_input(context(key), "dtype", "a numeric array", "a string");
  check_member_size(key, h);  // before the allocation
  ArrayF out(h.shape);
  std::vector<char> raw;
  read_raw(key, &raw, h.dtype == npy::DType::f32 ? out.ptr() : nullptr,
           h.dtype == npy::DType::f32 ? out.data.size() * sizeof(float) : 0);
  if (h.dtype != npy::DType::f32)
    npy::convert_to_f32(h.dtype, raw.data(), out.ptr(), out.data.size());
  return out;
}

Array<double> NpzReader::read_f64(const std::string& key) const {
  std::vector<char> raw;
  const npy::Header h = read_raw(key, &raw, nullptr, 0);
  if (h.dtype == npy::DType::unicode)
    fail_input(context(key), "dtype", "a numeric array", "a string");
  Array<double> out(h.shape);
  npy::convert_to_f64(h.dtype, raw.data(), out.ptr(), out.data.size());
  return out;
}

Array<int64_t> NpzReader::read_i64(const std::string& key) const {
  std::vector<char> raw;
  const npy::Header h = read_raw(key, &raw, nullptr, 0);
  Array<int64_t> out(h.shape);
  npy::convert_to_i64(h.dtype, raw.data(), out.ptr(), out.data.size(), context(key));
  return out;
}

Array<int32_t> NpzReader::read_i32(const std::string& key) const {
  const Array<int64_t> wide = read_i64(key);
  Array<int32_t> out(wide.shape);
  for (size_t i = 0; i < wide.data.size(); ++i) {
    if (wide.data[i] < INT32_MIN || wide.data[i] > INT32_MAX)
      fail_input(context(key), "value", "indices that fit in int32",
                 std::to_string(wide.data[i]));
    out.data[i] = static_cast<int32_t>(wide.data[i]);
  }
  return out;
}

npy::Header NpzReader::scalar_header(const std::string& key) const {
  npy::Header h = header(key);
  if (h.numel() != 1)
    fail_input(context(key), "shape", "a scalar", shape_to_string(h.shape));
  return h;
}

std::string NpzReader::read_string(const std::string& key) const {
  std::vector<char> raw;
  const npy::Header h = read_raw(key, &raw, nullptr, 0);
  if (h.dtype != npy::DType::unicode || h.numel() != 1)
    fail_input(context(key), "dtype", "a 0-d unicode string",
               std::string(npy::dtype_name(h.dtype)) + " of shape " + shape_to_string(h.shape));
  return npy::decode_unicode(raw.data(), h.itemsize);
}

double NpzReader::read_scalar_f64(const std::string& key) const {
  const npy::Header h = scalar_header(key);
  if (h.dtype == npy::DType::unicode)
    fail_input(context(key), "dtype", "a number", "a string");
  return read_f64(key).data.at(0);
}

int64_t NpzReader::read_scalar_i64(const std::string& key) const {
  const npy::Header h = scalar_header(key);
  if (h.dtype != npy::DType::i64 && h.dtype != npy::DType::i32)
    fail_input(context(key), "dtype", "an integer", npy::dtype_name(h.dtype));
  return read_i64(key).data.at(0);
}

bool NpzReader::read_scalar_bool(const std::string& key) const {
  const npy::Header h = scalar_header(key);
  if (h.dtype != npy::DType::boolean)
    fail_input(context(key), "dtype", "a bool", npy::dtype_name(h.dtype));
  return read_i64(key).data.at(0) != 0;
}

// ---------------------------------------------------------------------------

NpzWriter::NpzWriter(std::string path) : path_(std::move(path)), partial_path_(path_ + ".partial") {
  int code = 0;
  archive_ = zip_open(partial_path_.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!archive_)
    throw RuntimeFailure("cannot create " + partial_path_ + ": " + zip_error_text(code));
}

NpzWriter::~NpzWriter() {
  if (archive_) {
    zip_discard(archive_);
    std::error_code ec;
    std::filesystem::remove(partial_path_, ec);
  }
}

void NpzWriter::add_member(const std::string& key, const std::string& descr, const Shape& shape,
                           const void* data, size_t bytes) {
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i) shape_text += std::to_string(shape[i]) + ", ";
  if (shape.size() > 1) shape_text.resize(shape_text.size() - 2);
  if (shape.size() == 1) shape_text.resize(shape_text.size() - 1);
  shape_text += ")";
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " +
                     shape_text + ", }";
  // Version 1 header, padded with spaces so that the data starts 64-byte aligned.
  size_t total = 10 + dict.size() + 1;
  const size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  auto member = std::make_unique<std::string>("\x93NUMPY\x01\x00", 8);
  const auto hlen = static_cast<uint16_t>(dict.size());
  *member += static_cast<char>(hlen & 0xff);
  *member += static_cast<char>(hlen >> 8);
  *member += dict;

  // The member is header + data; libzip reads both through a layered source.
  zip_error_t err;
  zip_error_init(&err);
  zip_buffer_fragment_t fragments[2] = {
      {reinterpret_cast<zip_uint8_t*>(member->data()), member->size()},
      {static_cast<zip_uint8_t*>(const_cast<void*>(data)), bytes}};
  zip_source_t* src = zip_source_buffer_fragment_create(fragments, bytes ? 2 : 1, 0, &err);
  if (!src) throw RuntimeFailure("npz: cannot create member " + key);
  const std::string name = key + kNpySuffix;
  const zip_int64_t idx =
      zip_file_add(archive_, name.c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8);
  if (idx < 0) {
    zip_source_free(src);
    throw RuntimeFailure("npz: cannot add member " + key + ": " + zip_strerror(archive_));
  }
  zip_set_file_compression(archive_, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
  owned_.push_back(std::move(member));
}

void NpzWriter::add_f32(const std::string& key, const ArrayF& array) {
  add_member(key, "<f4", array.shape, array.ptr(), array.data.size() * sizeof(float));
}

void NpzWriter::add_i32(const std::string& key, const Array<int32_t>& array) {
  add_member(key, "<i4", array.shape, array.ptr(), array.data.size() * sizeof(int32_t));
}

void NpzWriter::add_string(const std::string& key, const std::string& value) {
  // numpy stores '<U' strings as UTF-32LE; an empty string is '<U1' holding NUL.
  size_t chars = 0;
  auto payload = std::make_unique<std::string>(utf8_to_utf32le(value, &chars));
  if (chars == 0) {
    chars = 1;
    payload->assign(4, '\0');
  }
  add_member(key, "<U" + std::to_string(chars), {}, payload->data(), payload->size());
  owned_.push_back(std::move(payload));
}

void NpzWriter::add_scalar_f64(const std::string& key, double value) {
  auto payload = std::make_unique<std::string>(reinterpret_cast<const char*>(&value), 8);
  add_member(key, "<f8", {}, payload->data(), 8);
  owned_.push_back(std::move(payload));
}

void NpzWriter::add_scalar_i64(const std::string& key, int64_t value) {
  auto payload = std::make_unique<std::string>(reinterpret_cast<const char*>(&value), 8);
  add_member(key, "<i8", {}, payload->data(), 8);
  owned_.push_back(std::move(payload));
}

void NpzWriter::add_scalar_bool(const std::string& key, bool value) {
  auto payload = std::make_unique<std::string>(1, value ? '\1' : '\0');
  add_member(key, "|b1", {}, payload->data(), 1);
  owned_.push_back(std::move(payload));
}

void NpzWriter::close() {
  if (!archive_) return;
  if (zip_close(archive_) != 0) {
    const std::string msg = zip_strerror(archive_);
    zip_discard(archive_);
    archive_ = nullptr;
    throw RuntimeFailure("cannot write " + partial_path_ + ": " + msg);
  }
  archive_ = nullptr;
  std::filesystem::rename(partial_path_, path_);
}

}  // namespace gencast
