// Device names, parsed in one place: "cpu", "cuda" (= cuda:0) or "cuda:N".
// The spec, the CLI and the backend factory (devices/) all use this parser.
// A run's device may also be "auto" (the default): the first usable GPU, else
// the CPU, decided when the run starts (devices/device_factory.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gencast {

struct DeviceName {
  enum class Kind { cpu, cuda } kind = Kind::cpu;
  int index = 0;  // GPU index for cuda; 0 for cpu
  std::string text() const;  // canonical: "cpu" / "cuda:N"
  bool operator==(const DeviceName&) const = default;
};

inline constexpr const char* kDeviceChoices = "cpu or cuda:N (N = GPU index)";
inline constexpr const char* kAutoDevice = "auto";
inline constexpr const char* kRunDeviceChoices =
    "auto (the first usable GPU, else the CPU), cpu or cuda:N (N = GPU index)";

std::optional<DeviceName> find_device_name(std::string_view text);
// Throws InputError (field "device") naming the accepted forms.
DeviceName parse_device_name(const std::string& text);
// "cpu", "cuda" or "cuda:N" -> canonical "cpu" / "cuda:N"; nullopt otherwise.
std::optional<std::string> canonical_device(std::string_view text);
// A run's device (runtime.device, --device): "auto" or canonical_device.
std::optional<std::string> canonical_run_device(std::string_view text);

// The workers of a run: one per listed device, in order. A device may be
// listed twice (two workers on one GPU, or "cpu,cpu"). "all" alone stands for
// every GPU of the machine, expanded when the run starts (devices/).
inline constexpr const char* kAllDevices = "all";
inline constexpr const char* kDeviceListChoices =
    "a list of cpu / cuda:N (a device may repeat), or all";
// Canonical names, or {"all"}; nullopt for an empty list, an unknown name, or
// "all" together with other names.
std::optional<std::vector<std::string>> canonical_device_list(
    const std::vector<std::string>& names);

}  // namespace gencast
