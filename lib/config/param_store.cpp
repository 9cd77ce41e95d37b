// ParamStore: lookups with messages that help find a misspelt module path.
#include "config/param_store.h"

#include "core/error.h"

namespace gencast {

void ParamStore::set(const std::string& name, ArrayF array) {
  params_[name] = std::move(array);
}

const ArrayF& ParamStore::get(const std::string& name) const {
  auto it = params_.find(name);
  if (it != params_.end()) return it->second;
  // The closest stored name (longest common prefix) usually shows the typo.
  std::string nearest;
  size_t best = 0;
  for (const auto& [candidate, unused] : params_) {
    size_t common = 0;
    while (common < candidate.size() && common < name.size() && candidate[common] == name[common])
      ++common;
    if (common > best) {
      best = common;
      nearest = candidate;
    }
  }
  std::string message = "parameter '" + name + "' is not in the parameter store (" +
                        std::to_string(params_.size()) + " arrays)";
  if (!nearest.empty()) message += "; nearest name: '" + nearest + "'";
  throw RuntimeFailure(message);
}

std::vector<std::string> ParamStore::names() const {
  std::vector<std::string> out;
  out.reserve(params_.size());
  for (const auto& [name, unused] : params_) out.push_back(name);
  return out;
}

int64_t ParamStore::total_values() const {
  int64_t total = 0;
  for (const auto& [unused, array] : params_) total += array.numel();
  return total;
}

}  // namespace gencast
