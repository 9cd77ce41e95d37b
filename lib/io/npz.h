// Reading and writing numpy .npz archives (np.savez): a zip of .npy members,
// stored or deflated. Arrays are read straight from the archive into their
// destination buffer; a float32 member is copied exactly once (zip -> array).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/array.h"
#include "io/npy.h"

struct zip;

namespace gencast {

class NpzReader {
 public:
  // Opens the archive and indexes its members; throws InputError if the file
  // is missing, not a zip archive, or truncated.
  explicit NpzReader(std::string path);
  ~NpzReader();
  NpzReader(const NpzReader&) = delete;
  NpzReader& operator=(const NpzReader&) = delete;

  const std::string& path() const { return path_; }
  // Member names without the ".npy" suffix, in archive order.
  const std::vector<std::string>& keys() const { return keys_; }
  bool contains(const std::string& key) const { return index_.count(key) != 0; }

  // The parsed .npy header of a member (throws InputError if absent/corrupt).
  npy::Header header(const std::string& key) const;

  // Numeric members converted to float32 / int32 / double.
  ArrayF read_f32(const std::string& key) const;
  Array<int32_t> read_i32(const std::string& key) const;
  Array<double> read_f64(const std::string& key) const;
  Array<int64_t> read_i64(const std::string& key) const;
  // 0-d members, as the dataclass leaves of a checkpoint.
  std::string read_string(const std::string& key) const;
  double read_scalar_f64(const std::string& key) const;
  int64_t read_scalar_i64(const std::string& key) const;
  bool read_scalar_bool(const std::string& key) const;

 private:
  // Reads the header and the raw data of a member into `raw` (or, when
  // `direct` is non-null and large enough, straight into `direct`).
  npy::Header read_raw(const std::string& key, std::vector<char>* raw, void* direct,
                       size_t direct_bytes) const;
  std::string context(const std::string& key) const { return path_ + " [" + key + "]"; }
  // InputError unless the member's stored size matches header `h` (checked
  // before any buffer of the header's size is allocated).
  void check_member_size(const std::string& key, const npy::Header& h) const;
  npy::Header scalar_header(const std::string& key) const;

  std::string path_;
  zip* archive_ = nullptr;
  std::vector<std::string> keys_;
  std::map<std::string, int64_t> index_;
};

// Builds an .npz archive (stored, uncompressed, like np.savez). Arrays are
// referenced, not copied: they must stay alive until close(). Writes to
// `path + ".partial"` and renames on close, so no half-written file remains.
class NpzWriter {
 public:
  explicit NpzWriter(std::string path);
  ~NpzWriter();
  NpzWriter(const NpzWriter&) = delete;
  NpzWriter& operator=(const NpzWriter&) = delete;

  void add_f32(const std::string& key, const ArrayF& array);
  void add_i32(const std::string& key, const Array<int32_t>& array);
  void add_string(const std::string& key, const std::string& value);
  void add_scalar_f64(const std::string& key, double value);
  void add_scalar_i64(const std::string& key, int64_t value);
  void add_scalar_bool(const std::string& key, bool value);
  void close();

 private:
  void add_member(const std::string& key, const std::string& descr, const Shape& shape,
                  const void* data, size_t bytes);

  std::string path_;
  std::string partial_path_;
  zip* archive_ = nullptr;
  std::vector<std::unique_ptr<std::string>> owned_;  // headers and small payloads
};

}  // namespace gencast
