// Definitions of the CUDA/cuBLAS/cuFFT error checks (see cuda_check.cuh).
#include "cuda_check.cuh"

#include <string>

#include "core/error.h"

namespace gencast::cuda {

void throw_cuda_error(const char* what, const char* stmt, const char* file, int line) {
  int device = -1;
  // Best effort: the device query itself may fail once the context is broken.
  if (cudaGetDevice(&device) != cudaSuccess) device = -1;
  throw RuntimeFailure(std::string("CUDA error on device ") + std::to_string(device) + ": " +
                       what + "\n  in " + stmt + "\n  at " + file + ":" + std::to_string(line));
}

void check_cuda(cudaError_t status, const char* stmt, const char* file, int line) {
  if (status == cudaSuccess) return;
  const std::string what =
      std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")";
  throw_cuda_error(what.c_str(), stmt, file, line);
}

void check_cublas(cublasStatus_t status, const char* stmt, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const std::string what = std::string("cuBLAS status ") + std::to_string(int(status)) + " (" +
                           cublasLtGetStatusString(status) + ")";
  throw_cuda_error(what.c_str(), stmt, file, line);
}

void check_cufft(cufftResult status, const char* stmt, const char* file, int line) {
  if (status == CUFFT_SUCCESS) return;
  const std::string what = "cuFFT result " + std::to_string(int(status));
  throw_cuda_error(what.c_str(), stmt, file, line);
}

}  // namespace gencast::cuda
