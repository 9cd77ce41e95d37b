// A minimal host-side n-d array: a shape and contiguous row-major data.
// Used for parameters, graph features and fields on the host; device memory
// lives in backend Tensors (backend/tensor.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace gencast {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1},
                         [](int64_t a, int64_t b) { return a * b; });
}

// "(267, 32)" like numpy prints shapes, for messages.
inline std::string shape_to_string(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

template <class T>
struct Array {
  Shape shape;
  std::vector<T> data;

  Array() = default;
  explicit Array(Shape s) : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape))) {}
  Array(Shape s, T fill)
      : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape)), fill) {}

  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t dim(size_t i) const { return shape.at(i); }
  T* ptr() { return data.data(); }
  const T* ptr() const { return data.data(); }
};

using ArrayF = Array<float>;
using ArrayI = Array<int32_t>;

// `copies` copies of `a` stacked along its first dimension (a batch of
// identical members; an array without dimensions is returned as it is).
template <class T>
Array<T> tile_rows(const Array<T>& a, int64_t copies) {
  if (a.shape.empty() || copies == 1) return a;
  Shape shape = a.shape;
  shape[0] *= copies;
  Array<T> out(std::move(shape));
  for (int64_t k = 0; k < copies; ++k)
    std::copy(a.data.begin(), a.data.end(), out.data.begin() + k * a.numel());
  return out;
}

}  // namespace gencast
