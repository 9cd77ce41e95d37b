// CudaEventTimer: a pair of CUDA events on the backend's stream.
#include "cuda_timer.h"

#include <stdexcept>

#include "cuda_backend.cuh"
#include "cuda_check.cuh"

namespace gencast::cuda {

struct CudaEventTimer::Impl {
  CudaBackend* backend = nullptr;
  cudaEvent_t begin = nullptr, end = nullptr;
};

CudaEventTimer::CudaEventTimer(Backend& backend) : impl_(std::make_unique<Impl>()) {
  impl_->backend = dynamic_cast<CudaBackend*>(&backend);
  if (!impl_->backend) throw std::invalid_argument("CudaEventTimer needs a CUDA backend");
  CUDA_CHECK(cudaSetDevice(impl_->backend->device()));
  CUDA_CHECK(cudaEventCreate(&impl_->begin));
  CUDA_CHECK(cudaEventCreate(&impl_->end));
}

CudaEventTimer::~CudaEventTimer() {
  if (impl_->begin) cudaEventDestroy(impl_->begin);
  if (impl_->end) cudaEventDestroy(impl_->end);
}

void CudaEventTimer::start() {
  CUDA_CHECK(cudaSetDevice(impl_->backend->device()));
  CUDA_CHECK(cudaEventRecord(impl_->begin, impl_->backend->stream()));
}

double CudaEventTimer::stop_ms() {
  CUDA_CHECK(cudaSetDevice(impl_->backend->device()));
  CUDA_CHECK(cudaEventRecord(impl_->end, impl_->backend->stream()));
  CUDA_CHECK(cudaEventSynchronize(impl_->end));
  float ms = 0.f;
  CUDA_CHECK(cudaEventElapsedTime(&ms, impl_->begin, impl_->end));
  return ms;
}

}  // namespace gencast::cuda
