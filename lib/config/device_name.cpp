#include "config/device_name.h"

#include <charconv>

#include "core/error.h"

namespace gencast {

std::string DeviceName::text() const {
  return kind == Kind::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

std::optional<DeviceName> find_device_name(std::string_view text) {
  if (text == "cpu") return DeviceName{};
  if (text == "cuda") return DeviceName{DeviceName::Kind::cuda, 0};
  if (text.substr(0, 5) != "cuda:" || text.size() == 5) return std::nullopt;
  const std::string_view digits = text.substr(5);
  int index = 0;
  const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (res.ec != std::errc() || res.ptr != digits.data() + digits.size() || index < 0)
    return std::nullopt;
  return DeviceName{DeviceName::Kind::cuda, index};
}

DeviceName parse_device_name(const std::string& text) {
  if (auto d = find_device_name(text)) return *d;
  fail_input("", "device", kDeviceChoices, "'" + text + "'");
}

std::optional<std::string> canonical_device(std::string_view text) {
  if (auto d = find_device_name(text)) return d->text();
  return std::nullopt;
}

std::optional<std::string> canonical_run_device(std::string_view text) {
  if (text == kAutoDevice) return std::string(kAutoDevice);
  return canonical_device(text);
}

std::optional<std::vector<std::string>> canonical_device_list(
    const std::vector<std::string>& names) {
  if (names.empty()) return std::nullopt;
  if (names.size() == 1 && names[0] == kAllDevices) return names;
  std::vector<std::string> out;
  for (const auto& name : names) {
    auto d = canonical_device(name);
    if (!d) return std::nullopt;
    out.push_back(*d);
  }
  return out;
}

}  // namespace gencast
