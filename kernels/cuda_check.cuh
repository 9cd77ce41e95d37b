// Error checks for CUDA runtime, cuBLAS(Lt) and cuFFT calls.
//
// Every failing call becomes a RuntimeFailure (exit code 1) whose message
// names the statement, file:line, the error and the current device, so a
// failure on a multi-GPU host says where it happened. Kernel launches are
// followed by CUDA_CHECK(cudaGetLastError()) in their *_launch function.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cufft.h>

namespace gencast::cuda {

[[noreturn]] void throw_cuda_error(const char* what, const char* stmt, const char* file,
                                   int line);
void check_cuda(cudaError_t status, const char* stmt, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* stmt, const char* file, int line);
void check_cufft(cufftResult status, const char* stmt, const char* file, int line);

}  // namespace gencast::cuda

#define CUDA_CHECK(stmt) ::gencast::cuda::check_cuda((stmt), #stmt, __FILE__, __LINE__)
#define CUBLAS_CHECK(stmt) ::gencast::cuda::check_cublas((stmt), #stmt, __FILE__, __LINE__)
#define CUFFT_CHECK(stmt) ::gencast::cuda::check_cufft((stmt), #stmt, __FILE__, __LINE__)
