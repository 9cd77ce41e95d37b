#include "config/precision.h"

#include <algorithm>

#include "core/error.h"

namespace gencast {

const std::vector<PrecisionInfo>& precision_table() {
  static const std::vector<PrecisionInfo> table = {
      {Precision::fp32, "fp32", DType::f32, DType::f32, DType::f32, "float32 FMA", 1e-4, false},
      {Precision::tf32, "tf32", DType::f32, DType::f32, DType::f16,
       "TF32 tensor cores, float32 storage and accumulation", 1e-3, true},
      {Precision::bf16, "bf16", DType::bf16, DType::bf16, DType::bf16,
       "bfloat16 tensor cores, float32 accumulation", 2e-2, true},
  };
  return table;
}

const PrecisionInfo& precision_info(Precision p) {
  for (const auto& info : precision_table())
    if (info.id == p) return info;
  throw std::logic_error("precision_info: a Precision without a table row");
}

const char* precision_name(Precision p) { return precision_info(p).name; }

size_t precision_bytes(Precision p) {
  const PrecisionInfo& info = precision_info(p);
  return std::max(dtype_size(info.weights), dtype_size(info.activations));
}

std::string precision_choices() {
  const auto& table = precision_table();
  std::string out;
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) out += i + 1 == table.size() ? " or " : ", ";
    out += table[i].name;
  }
  return out;
}

std::optional<Precision> find_precision(std::string_view name) {
  for (const auto& info : precision_table())
    if (name == info.name) return info.id;
  return std::nullopt;
}

Precision parse_precision(const std::string& name) {
  if (auto p = find_precision(name)) return *p;
  fail_input("", "precision", precision_choices(), "'" + name + "'");
}

}  // namespace gencast
