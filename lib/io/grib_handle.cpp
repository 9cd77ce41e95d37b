#include "io/grib_handle.h"

#include <eccodes.h>

#include <cmath>
#include <utility>

#include "core/error.h"

namespace gencast {
namespace {

// Marks missing points inside ecCodes; far from any physical value.
constexpr double kMissing = 9.999e20;

}  // namespace

GribHandle GribHandle::from_sample(const std::string& sample) {
  codes_handle* h = codes_grib_handle_new_from_samples(nullptr, sample.c_str());
  if (!h)
    throw RuntimeFailure("ecCodes: cannot load the GRIB sample '" + sample +
                         "' (is libeccodes-data installed?)");
  return GribHandle(h, "ecCodes sample " + sample);
}

GribHandle GribHandle::next_in_file(std::FILE* file, const std::string& path) {
  int status = 0;
  codes_handle* h = codes_handle_new_from_file(nullptr, file, PRODUCT_GRIB, &status);
  if (status != CODES_SUCCESS) {
    if (h) codes_handle_delete(h);
    throw RuntimeFailure(path + ": unreadable GRIB message: " + codes_get_error_message(status));
  }
  return GribHandle(h, path);
}

GribHandle::~GribHandle() {
  if (h_) codes_handle_delete(h_);
}

GribHandle::GribHandle(GribHandle&& other) noexcept
    : h_(std::exchange(other.h_, nullptr)), where_(std::move(other.where_)) {}

GribHandle& GribHandle::operator=(GribHandle&& other) noexcept {
  if (this != &other) {
    if (h_) codes_handle_delete(h_);
    h_ = std::exchange(other.h_, nullptr);
    where_ = std::move(other.where_);
  }
  return *this;
}

void GribHandle::fail(const char* what, const char* key, int status) const {
  throw RuntimeFailure(where_ + ": GRIB " + what + " '" + key +
                       "' failed: " + codes_get_error_message(status));
}

long GribHandle::get_long(const char* key) const {
  long v = 0;
  if (const int s = codes_get_long(h_, key, &v)) fail("reading key", key, s);
  return v;
}

double GribHandle::get_double(const char* key) const {
  double v = 0;
  if (const int s = codes_get_double(h_, key, &v)) fail("reading key", key, s);
  return v;
}

std::string GribHandle::get_string(const char* key) const {
  char buf[256];
  size_t len = sizeof buf;
  if (const int s = codes_get_string(h_, key, buf, &len)) fail("reading key", key, s);
  return std::string(buf, len > 0 && buf[len - 1] == '\0' ? len - 1 : len);
}

bool GribHandle::has(const char* key) const {
  int status = 0;  // ecCodes dereferences the status pointer
  return codes_is_defined(h_, key) && !codes_is_missing(h_, key, &status);
}

std::vector<double> GribHandle::get_values() {
  const bool bitmap = has("bitmapPresent") && get_long("bitmapPresent") != 0;
  if (bitmap) set_double("missingValue", kMissing);
  size_t n = 0;
  if (const int s = codes_get_size(h_, "values", &n)) fail("reading key", "values", s);
  std::vector<double> v(n);
  if (const int s = codes_get_double_array(h_, "values", v.data(), &n))
    fail("reading key", "values", s);
  v.resize(n);
  if (bitmap)
    for (double& x : v)
      if (x == kMissing) x = std::nan("");
  return v;
}

void GribHandle::set_long(const char* key, long value) {
  if (const int s = codes_set_long(h_, key, value)) fail("setting key", key, s);
}

void GribHandle::set_double(const char* key, double value) {
  if (const int s = codes_set_double(h_, key, value)) fail("setting key", key, s);
}

void GribHandle::set_string(const char* key, const std::string& value) {
  size_t len = value.size();
  if (const int s = codes_set_string(h_, key, value.c_str(), &len)) fail("setting key", key, s);
}

void GribHandle::set_values(std::vector<double>& values) {
  bool any_missing = false;
  for (double& x : values) {
    if (std::isnan(x)) {
      x = kMissing;
      any_missing = true;
    }
  }
  set_long("bitmapPresent", any_missing ? 1 : 0);
  if (any_missing) set_double("missingValue", kMissing);
  if (const int s = codes_set_double_array(h_, "values", values.data(), values.size()))
    fail("setting key", "values", s);
}

void GribHandle::message(const void** bytes, size_t* size) const {
  if (const int s = codes_get_message(h_, bytes, size)) fail("encoding", "message", s);
}

}  // namespace gencast
