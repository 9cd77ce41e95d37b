#include "core/json.h"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <system_error>

namespace gencast {
namespace {

[[noreturn]] void misuse(const char* what) {
  throw std::logic_error(std::string("JsonWriter: ") + what);
}

// Converts straight into `out`: 32 chars hold any int64 or uint64 (20) and
// any shortest double (24); to_chars reports, never truncates, if not.
template <class Number>
void append_number(std::string& out, Number v) {
  const size_t start = out.size();
  out.resize(start + 32);
  const auto res = std::to_chars(out.data() + start, out.data() + out.size(), v);
  if (res.ec != std::errc()) misuse("number longer than 32 characters");
  out.resize(static_cast<size_t>(res.ptr - out.data()));
}

}  // namespace

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (levels_.empty()) {
    if (!out_.empty()) misuse("a second value at top level");
    return;
  }
  Level& top = levels_.back();
  if (top.object) misuse("a value in an object without key()");
  if (top.has_item) out_ += ',';
  top.has_item = true;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  if (levels_.empty() || !levels_.back().object || after_key_) misuse("key() outside an object");
  Level& top = levels_.back();
  if (top.has_item) out_ += ',';
  top.has_item = true;
  string(name);
  out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin(bool object) {
  before_value();
  out_ += object ? '{' : '[';
  levels_.push_back({object, false});
  return *this;
}

JsonWriter& JsonWriter::end(bool object) {
  if (levels_.empty() || levels_.back().object != object || after_key_)
    misuse(object ? "end_object() without its begin" : "end_array() without its begin");
  levels_.pop_back();
  out_ += object ? '}' : ']';
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  before_value();
  string(s);
  return *this;
}

JsonWriter& JsonWriter::literal(std::string_view token) {
  before_value();
  out_ += token;
  return *this;
}

JsonWriter& JsonWriter::value(double v) {
  if (!std::isfinite(v)) return null();
  before_value();
  const size_t start = out_.size();
  append_number(out_, v);
  if (out_.find_first_of(".e", start) == std::string::npos) out_ += ".0";
  return *this;
}

JsonWriter& JsonWriter::integer(int64_t v) {
  before_value();
  append_number(out_, v);
  return *this;
}

JsonWriter& JsonWriter::integer(uint64_t v) {
  before_value();
  append_number(out_, v);
  return *this;
}

void JsonWriter::string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out_ += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default:
        if (u < 0x20) {
          out_ += "\\u00";
          out_ += kHex[u >> 4];
          out_ += kHex[u & 0xf];
        } else {
          out_ += c;  // printable ASCII and UTF-8 bytes alike
        }
    }
  }
  out_ += '"';
}

}  // namespace gencast
