// Row-major GEMM through cuBLASLt:
//   y[R,N] = act(alpha * x[R,K] @ w[K,N] + bias[N] + beta * y[R,N]).
//
// cuBLASLt is column-major; a row-major [R,N] matrix is the column-major
// [N,R] matrix with leading dimension N, so y^T = w^T x^T is computed with
// A = w (N x K, ld N), B = x (K x R, ld K), C = D = y (N x R, ld N) and no
// transposes. Bias (f32) and gelu go into the epilogue (bias is per row of
// the column-major D = per column of y; for a bf16 y cuBLASLt wants the bias
// in D's type: the caller's bf16 copy when it has one (frozen weights), else
// a bf16 scratch copy converted first);
// swish, which cuBLASLt has no epilogue for, is applied by a separate
// in-place pass over y.
//
// Invariants: x and w share one element type; y is f32, or bf16 when x/w are
// bf16. Compute type: f32 operands use CUBLAS_COMPUTE_32F (true float32) or
// CUBLAS_COMPUTE_32F_FAST_TF32; bf16 and f16 operands use CUBLAS_COMPUTE_32F
// (f16 x f16 -> f32: the tf32 precision's edge cache, stored in f16).
// Algorithms are chosen once per (shape, types, epilogue, pointer alignment)
// and cached; all calls run on one stream with one 32 MiB workspace.
//
// Tuning (opt-in, set_gemm_tuning; gencast-run --gemm-tuning): cuBLASLt's
// heuristic names one algorithm per shape without timing it, and for the
// tf32 GEMMs of GenCast's sizes its first choice is 15-25 % slower than its
// third (BENCHMARKS.md, round 9). With tuning on, the first call of each
// shape that does not read y (beta = 0) times the heuristic's first 8
// candidates on the real operands and keeps the fastest if it is at least
// 10 % faster than the first; the choice is shared by every runner of the
// process on the same GPU model, so all workers of a run agree. Separate
// processes (reruns, MPI ranks) time for themselves and may choose
// differently in a close call: last-bit differences within the precision's
// tolerance, which is why it is opt-in (docs: the ensemble contract).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "backend/backend.h"

namespace gencast::cuda {

struct GemmArgs {
  const void* x = nullptr;  // [R, K]
  const void* w = nullptr;  // [K, N]
  DType t_xw = DType::f32;
  const float* bias = nullptr;  // [N] or null
  const void* bias_half = nullptr;  // [N] bf16 copy of bias (frozen weights) or null
  void* y = nullptr;            // [R, N]
  DType t_y = DType::f32;
  int64_t rows = 0, inner = 0, cols = 0;  // R, K, N
  Activation act = Activation::none;
  float alpha = 1.f, beta = 0.f;
  bool tf32 = false;  // f32 operands on TF32 tensor cores
};

// Owns the cuBLASLt handle, the workspace and the per-shape algorithm cache.
// Not thread-safe: one runner per backend, used from one host thread.
class GemmRunner {
 public:
  GemmRunner();
  ~GemmRunner();
  GemmRunner(const GemmRunner&) = delete;
  GemmRunner& operator=(const GemmRunner&) = delete;

  size_t workspace_bytes() const { return workspace_bytes_; }
  void run(const GemmArgs& args, cudaStream_t stream);

 private:
  struct Plan;
  Plan& plan_for(const GemmArgs& args);
  const void* bias_for(const GemmArgs& args, cudaStream_t stream);
  void tune(Plan& plan, const GemmArgs& args, cudaStream_t stream);
  // Mean ms of one call with `algo` (the best of a few batches), or < 0 when
  // cuBLASLt refuses the call.
  float time_algo(Plan& plan, const GemmArgs& args, const cublasLtMatmulAlgo_t& algo,
                  cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  void* bias_scratch_ = nullptr;  // bf16 copy of the bias for bf16 outputs
  int64_t bias_capacity_ = 0;
  std::map<std::array<int64_t, 12>, std::unique_ptr<Plan>> plans_;
  std::string gpu_model_;  // for the process-wide tuning table
};

// Process-wide switch for GEMM tuning (off by default); runners read it when
// they plan a shape (gencast::gemm_tuning_enabled() reads it back).
void set_gemm_tuning(bool enabled);
// Shapes timed so far by every runner of the process (tests: a second runner
// of the same GPU model reuses the first one's choice instead of timing).
int gemm_timed_shapes();

// The launcher: checks the arguments, runs the GEMM and the swish pass.
void linear_launch(GemmRunner& runner, const GemmArgs& args, cudaStream_t stream);

}  // namespace gencast::cuda
