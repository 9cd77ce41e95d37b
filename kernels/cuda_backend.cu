// Placeholder until the CUDA backend lands.
#include <memory>

#include "backend/backend.h"
#include "core/error.h"

namespace gencast {
std::unique_ptr<Backend> make_cuda_backend(int, Precision) {
  throw RuntimeFailure("CUDA backend: not implemented yet");
}
}  // namespace gencast
