#include "backend/backend.h"

#include <algorithm>

#include "core/error.h"

namespace gencast {

std::shared_ptr<float[]> Backend::pinned_host(int64_t count) {
  return std::shared_ptr<float[]>(new float[static_cast<size_t>(std::max<int64_t>(count, 1))]);
}

Tensor Backend::from_host(const ArrayF& a, DType dtype) {
  Tensor t = empty(a.shape, dtype);
  upload(a.ptr(), t);
  return t;
}

Tensor Backend::from_host_i32(const std::vector<int32_t>& v) {
  Tensor t = empty({static_cast<int64_t>(v.size())}, DType::i32);
  upload_i32(v.data(), t);
  return t;
}

bool Backend::fused_edge_mlp(const EdgeMlpOperands&, Tensor&) { return false; }

ArrayF Backend::to_host(const Tensor& t) {
  ArrayF a(t.shape());
  download(t, a.ptr());
  return a;
}

}  // namespace gencast
