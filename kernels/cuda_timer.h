// GPU-side timing for benchmarks: CUDA events recorded on a CUDA backend's
// stream, so the measured interval is exactly the device work queued between
// start() and stop(), with no host overhead or synchronisation in it.
// Plain C++ header (no CUDA includes) so tests and tools can use it.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace gencast::cuda {

class CudaEventTimer {
 public:
  // `backend` must be a CUDA backend (std::invalid_argument otherwise).
  explicit CudaEventTimer(Backend& backend);
  ~CudaEventTimer();
  CudaEventTimer(const CudaEventTimer&) = delete;
  CudaEventTimer& operator=(const CudaEventTimer&) = delete;

  void start();
  // Records the stop event, waits for it and returns milliseconds since start().
  double stop_ms();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gencast::cuda
