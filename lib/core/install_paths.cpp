#include "core/install_paths.h"

#include <system_error>

namespace gencast {

std::filesystem::path executable_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path();
}

std::filesystem::path bundled_data_dir() {
  const std::filesystem::path dir = executable_dir();
  if (dir.empty()) return {};
  return (dir / ".." / "share" / "gencast-run").lexically_normal();
}

}  // namespace gencast
