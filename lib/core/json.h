// The one way this project writes JSON (inspect, check-config, verify, bench,
// progress and log lines): a small streaming writer that appends to a string,
// so no output depends on a fixed-size buffer or on hand-placed commas.
//
// Invariants:
// - Output is compact, on one line, with no whitespace between tokens.
// - Commas are placed by the writer; a misuse (a value in an object without
//   key(), key() outside an object, an unmatched end_*) throws
//   std::logic_error: it is a programming error, never a user one.
// - Strings are escaped: '"' and '\' get a backslash, control characters
//   below 0x20 become \b \f \n \r \t or \u00XX; all other bytes, UTF-8
//   included, pass through unchanged (the caller supplies valid UTF-8).
// - Doubles are written in the shortest form that reads back to the same
//   value (std::to_chars), with ".0" added when that form has neither '.'
//   nor exponent, so that typed readers (Python's json) still see a float.
//   JSON has no inf or NaN: non-finite doubles are written as null.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gencast {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return begin(true); }
  JsonWriter& end_object() { return end(true); }
  JsonWriter& begin_array() { return begin(false); }
  JsonWriter& end_array() { return end(false); }
  // The name of the next member of the current object.
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view s);
  // Without it a string literal would convert to bool, not to string_view.
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) { return literal(b ? "true" : "false"); }
  JsonWriter& value(double v);
  // Every integer type, so that int, long and long long are not ambiguous.
  template <std::signed_integral T>
  JsonWriter& value(T v) { return integer(static_cast<int64_t>(v)); }
  template <std::unsigned_integral T>
  JsonWriter& value(T v) { return integer(static_cast<uint64_t>(v)); }
  JsonWriter& null() { return literal("null"); }

  // The text written so far (a complete document once every begin_* is ended).
  const std::string& str() const { return out_; }

 private:
  struct Level {
    bool object;    // '{' rather than '['
    bool has_item;  // a comma goes before the next member or element
  };
  JsonWriter& literal(std::string_view token);
  JsonWriter& integer(int64_t v);
  JsonWriter& integer(uint64_t v);
  JsonWriter& begin(bool object);
  JsonWriter& end(bool object);
  void before_value();
  void string(std::string_view s);

  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

}  // namespace gencast
