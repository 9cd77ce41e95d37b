// Small text helpers for messages: joining names and numbers.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace gencast {

inline std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

template <class Int>
std::string join_numbers(const std::vector<Int>& values, const std::string& sep = " ") {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += sep;
    out += std::to_string(values[i]);
  }
  return out;
}

// printf-formatted number, e.g. format_number("%.3f s", seconds).
inline std::string format_number(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// One "  key<padded to 30>  value" line of the bench tables.
inline std::string table_row(const std::string& key, const std::string& value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %-30s ", key.c_str());
  return buf + value + "\n";
}

}  // namespace gencast
