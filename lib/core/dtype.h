// Element types of device tensors. Kept in core (not backend/) so that the
// precision table (config/precision.h) can name the storage types without
// depending on the backend layer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gencast {

// f16 (IEEE half) is a storage type only: the tf32 precision keeps its
// edge-embedding cache in it (see PrecisionInfo::edge_cache); backends
// convert it to f32 with copy() and compute on nothing else.
enum class DType : uint8_t { f32, bf16, i32, f16 };

inline size_t dtype_size(DType t) { return t == DType::bf16 || t == DType::f16 ? 2 : 4; }
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
    case DType::f16: return "f16";
  }
  return "?";
}

}  // namespace gencast
