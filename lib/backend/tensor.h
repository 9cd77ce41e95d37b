// Backend-owned n-d buffers ("tensors") with RAII lifetime.
//
// A Tensor is a shape, an element type and a pointer into storage owned by a
// backend (host memory for the CPU backend, device memory for CUDA). Copies
// share storage; the storage is freed when the last copy goes away. Views
// (`rows`) share storage too. Row-major; "rows" = product of all dims but the
// last, "cols" = the last dim.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/array.h"
#include "core/dtype.h"

namespace gencast {

class Backend;


class Tensor {
 public:
  Tensor() = default;
  Tensor(Backend* backend, Shape shape, DType dtype, std::shared_ptr<void> storage, void* data)
      : backend_(backend), shape_(std::move(shape)), dtype_(dtype),
        storage_(std::move(storage)), data_(data) {}

  bool defined() const { return data_ != nullptr || numel() == 0; }
  Backend* backend() const { return backend_; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return shape_.empty() ? 0 : shape_numel(shape_); }
  int64_t cols() const { return shape_.empty() ? 0 : shape_.back(); }
  int64_t rows() const { return cols() == 0 ? 0 : numel() / cols(); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <class T> T* as() { return static_cast<T*>(data_); }
  template <class T> const T* as() const { return static_cast<const T*>(data_); }

  // A view of rows [begin, begin + count) sharing this tensor's storage.
  Tensor rows(int64_t begin, int64_t count) const {
    if (begin < 0 || count < 0 || begin + count > rows())
      throw std::out_of_range("Tensor::rows: range outside the tensor");
    Shape s{count, cols()};
    auto* p = static_cast<char*>(data_) +
              static_cast<size_t>(begin * cols()) * dtype_size(dtype_);
    return Tensor(backend_, std::move(s), dtype_, storage_, p);
  }
  // Observes the storage without keeping it alive: expired once the last
  // tensor sharing it is gone (backends key derived copies on it).
  std::weak_ptr<void> storage_watch() const { return storage_; }
  // Same storage, new shape with the same number of elements.
  Tensor reshaped(Shape s) const {
    if (shape_numel(s) != numel()) throw std::invalid_argument("Tensor::reshaped: size mismatch");
    return Tensor(backend_, std::move(s), dtype_, storage_, data_);
  }

 private:
  Backend* backend_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::f32;
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
};

}  // namespace gencast
