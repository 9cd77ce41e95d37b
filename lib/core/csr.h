// Compressed sparse rows: the graph layer builds them (k-hop neighbourhoods),
// backends consume them (attention plans).
#pragma once

#include <cstdint>
#include <vector>

namespace gencast {

// Row r owns indices [offsets[r], offsets[r+1]).
struct Csr {
  std::vector<int64_t> offsets;
  std::vector<int32_t> indices;
  int64_t rows() const { return offsets.empty() ? 0 : static_cast<int64_t>(offsets.size()) - 1; }
  int64_t nnz() const { return offsets.empty() ? 0 : offsets.back(); }
};

}  // namespace gencast
