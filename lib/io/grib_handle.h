// A thin owner of one ecCodes GRIB message (codes_handle) with typed key
// access that throws instead of returning status codes, so the GRIB sink and
// reader read like the NetCDF ones. Every failure names the file (or sample)
// and the key.
//
// ecCodes as packaged by Debian is built without thread support: use GRIB
// handles from one thread at a time (the sink and the reader both do).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

struct grib_handle;  // ecCodes' codes_handle

namespace gencast {

class GribHandle {
 public:
  // A new message from an ecCodes sample ("regular_ll_sfc_grib2").
  static GribHandle from_sample(const std::string& sample);
  // The next GRIB message of `file` (an empty handle at the end of the file);
  // RuntimeFailure naming `path` when the bytes are not a readable message.
  static GribHandle next_in_file(std::FILE* file, const std::string& path);

  GribHandle() = default;
  ~GribHandle();
  GribHandle(GribHandle&& other) noexcept;
  GribHandle& operator=(GribHandle&& other) noexcept;
  GribHandle(const GribHandle&) = delete;
  GribHandle& operator=(const GribHandle&) = delete;

  explicit operator bool() const { return h_ != nullptr; }
  const std::string& where() const { return where_; }

  long get_long(const char* key) const;
  double get_double(const char* key) const;
  std::string get_string(const char* key) const;
  bool has(const char* key) const;  // defined and not missing
  // The decoded values in the message's scanning order; points that the
  // bitmap marks missing are NaN.
  std::vector<double> get_values();

  void set_long(const char* key, long value);
  void set_double(const char* key, double value);
  void set_string(const char* key, const std::string& value);
  // Encodes `values` with the handle's current packing; NaN values become
  // missing points of a bitmap (and the bitmap is dropped when there are none).
  void set_values(std::vector<double>& values);

  // The encoded message bytes (valid until the handle changes).
  void message(const void** bytes, size_t* size) const;

 private:
  GribHandle(grib_handle* h, std::string where) : h_(h), where_(std::move(where)) {}
  [[noreturn]] void fail(const char* what, const char* key, int status) const;

  grib_handle* h_ = nullptr;
  std::string where_;  // file or sample, for messages
};

}  // namespace gencast
