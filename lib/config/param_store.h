// The model's parameters on the host: haiku module path -> float32 array.
//
// Names are the checkpoint's parameter keys without the "params:" prefix,
// e.g. "mesh_transformer/~/transformer/block_00/mha_proj_q:w". Every array is
// float32 and row-major; linear layers store w as [in, out] (y = x @ w + b).
// Names are unique and kept sorted, so iteration order is deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/array.h"

namespace gencast {

class ParamStore {
 public:
  // Adds or replaces a parameter.
  void set(const std::string& name, ArrayF array);

  bool contains(const std::string& name) const { return params_.count(name) != 0; }
  // Throws RuntimeFailure naming the parameter (and a near miss, if any):
  // a missing parameter after validation is a programming error, not bad input.
  const ArrayF& get(const std::string& name) const;

  // All names, sorted.
  std::vector<std::string> names() const;
  // Number of arrays.
  int64_t count() const { return static_cast<int64_t>(params_.size()); }
  // Sum of all arrays' element counts.
  int64_t total_values() const;
  // Bytes held as float32.
  int64_t total_bytes() const { return total_values() * static_cast<int64_t>(sizeof(float)); }

  const std::map<std::string, ArrayF>& arrays() const { return params_; }

 private:
  std::map<std::string, ArrayF> params_;
};

}  // namespace gencast
