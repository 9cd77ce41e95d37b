// Element types of device tensors. Kept in core (not backend/) so that the
// precision table (config/precision.h) can name the storage types without
// depending on the backend layer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gencast {

enum class DType : uint8_t { f32, bf16, i32 };

inline size_t dtype_size(DType t) { return t == DType::bf16 ? 2 : 4; }
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
  }
  return "?";
}

}  // namespace gencast
