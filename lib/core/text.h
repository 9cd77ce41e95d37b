// Small text helpers for messages: joining names and numbers.
#pragma once

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

}  // namespace gencast
