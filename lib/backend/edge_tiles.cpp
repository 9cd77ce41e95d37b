#include "backend/edge_tiles.h"

#include <stdexcept>
#include <string>

namespace gencast {

std::optional<std::vector<int32_t>> plan_edge_tiles(std::span<const int32_t> offsets,
                                                    int64_t max_rows) {
  if (max_rows < 1) throw std::invalid_argument("plan_edge_tiles: max_rows must be >= 1");
  if (offsets.empty()) throw std::invalid_argument("plan_edge_tiles: offsets must not be empty");
  const auto segments = static_cast<int64_t>(offsets.size()) - 1;
  std::vector<int32_t> tiles{0};
  int64_t start = 0;  // first segment of the open tile
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t degree = int64_t{offsets[static_cast<size_t>(s + 1)]} - offsets[static_cast<size_t>(s)];
    if (degree < 0)
      throw std::invalid_argument("plan_edge_tiles: offsets decrease at segment " +
                                  std::to_string(s));
    if (degree > max_rows) return std::nullopt;
    // Close the open tile before s when s does not fit in it.
    const int64_t rows = int64_t{offsets[static_cast<size_t>(s + 1)]} - offsets[static_cast<size_t>(start)];
    if (rows > max_rows || s + 1 - start > max_rows) {
      tiles.push_back(static_cast<int32_t>(s));
      start = s;
    }
  }
  if (segments > 0) tiles.push_back(static_cast<int32_t>(segments));
  return tiles;
}

}  // namespace gencast
