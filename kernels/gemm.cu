// cuBLASLt GEMM with bias/gelu epilogues and a cached algorithm per shape
// (see gemm.cuh for the layout identity and the type rules).
#include "gemm.cuh"

#include <stdexcept>
#include <string>

#include "core/error.h"
#include "cuda_check.cuh"
#include "elementwise.cuh"

namespace gencast::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::bf16: return CUDA_R_16BF;
    default: throw std::invalid_argument("cuda backend linear: x, w and y must be f32 or bf16");
  }
}

// Largest power of two (<= 256) dividing the address: what cuBLASLt may assume.
int64_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  int64_t align = 256;
  while (align > 1 && a % static_cast<uintptr_t>(align) != 0) align /= 2;
  return align;
}

// cuBLASLt's GELU epilogue computes the tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the same function as
// jax.nn.gelu(approximate=True): measured on an H100 (CUDA 13.0) it stays
// within 5.1e-6 of that formula over [-6, 6], while the erf form differs by
// up to 4.7e-4. test_cuda_parity.cpp ("linear gelu epilogue is the tanh
// approximation") checks this, so a library change would fail that test
// rather than drift silently.
cublasLtEpilogue_t epilogue_for(bool bias, Activation act) {
  if (act == Activation::gelu) return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
}

}  // namespace

struct GemmRunner::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    // Destruction must not throw; a failure here only leaks a descriptor.
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

GemmRunner::GemmRunner() {
  CUBLAS_CHECK(cublasLtCreate(&handle_));
  CUDA_CHECK(cudaMalloc(&workspace_, kWorkspaceBytes));
  workspace_bytes_ = kWorkspaceBytes;
}

GemmRunner::~GemmRunner() {
  plans_.clear();
  if (bias_scratch_) cudaFree(bias_scratch_);
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

GemmRunner::Plan& GemmRunner::plan_for(const GemmArgs& g) {
  const bool has_bias = g.bias != nullptr;
  const cublasLtEpilogue_t epilogue =
      epilogue_for(has_bias, g.act == Activation::gelu ? Activation::gelu : Activation::none);
  const cublasComputeType_t compute =
      g.t_xw == DType::f32 && g.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const int64_t align_a = alignment_of(g.w), align_b = alignment_of(g.x),
                align_c = alignment_of(g.y),
                align_bias = has_bias ? alignment_of(g.bias) : 256;
  const std::array<int64_t, 12> key{g.rows, g.inner, g.cols, int64_t(g.t_xw), int64_t(g.t_y),
                                    int64_t(compute), int64_t(epilogue), align_a, align_b,
                                    align_c, align_bias, 0};
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  auto plan = std::make_unique<Plan>();
  const cudaDataType_t type_ab = cuda_type(g.t_xw), type_c = cuda_type(g.t_y);
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->desc, compute, CUDA_R_32F));
  const cublasOperation_t no_trans = CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &no_trans,
                                              sizeof(no_trans)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &no_trans,
                                              sizeof(no_trans)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                              &epilogue, sizeof(epilogue)));
  if (has_bias) {
    // The bias has D's type: cuBLASLt (13.0, H100) rejects an f32 bias with a
    // bf16 D (CUBLAS_STATUS_INVALID_VALUE), so run() converts it first.
    const cudaDataType_t bias_type = type_c;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                                &bias_type, sizeof(bias_type)));
  }
  const auto u64 = [](int64_t v) { return static_cast<uint64_t>(v); };
  // Column-major views: A = w^T as N x K (ld N), B = x^T as K x R (ld K), C = D = y^T N x R (ld N).
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->a, type_ab, u64(g.cols), u64(g.inner), g.cols));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->b, type_ab, u64(g.inner), u64(g.rows), g.inner));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->c, type_c, u64(g.cols), u64(g.rows), g.cols));

  cublasLtMatmulPreference_t pref = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  struct PrefGuard {
    cublasLtMatmulPreference_t p;
    ~PrefGuard() { cublasLtMatmulPreferenceDestroy(p); }
  } guard{pref};
  const uint64_t ws = workspace_bytes_;
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &ws, sizeof(ws)));
  const auto set_align = [&](cublasLtMatmulPreferenceAttributes_t attr, int64_t bytes) {
    const auto v = static_cast<uint32_t>(bytes);
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &v, sizeof(v)));
  };
  set_align(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_a);
  set_align(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_b);
  set_align(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_c);
  set_align(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_c);

  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_, plan->desc, plan->a, plan->b, plan->c,
                                              plan->c, pref, 1, &result, &found));
  if (found == 0)
    throw RuntimeFailure("cuBLASLt has no algorithm for linear R=" + std::to_string(g.rows) +
                         " K=" + std::to_string(g.inner) + " N=" + std::to_string(g.cols) +
                         " (" + dtype_name(g.t_xw) + " -> " + dtype_name(g.t_y) + ")");
  plan->algo = result.algo;
  return *plans_.emplace(key, std::move(plan)).first->second;
}

const void* GemmRunner::bias_for(const GemmArgs& g, cudaStream_t stream) {
  if (g.t_y == DType::f32) return g.bias;
  if (g.bias_half) return g.bias_half;
  // bf16 output: a bf16 copy of the bias in a scratch buffer. Reusing it is
  // safe because every conversion and GEMM is ordered on the one stream.
  if (bias_capacity_ < g.cols) {
    if (bias_scratch_) CUDA_CHECK(cudaFree(bias_scratch_));  // synchronises: nothing in flight
    bias_scratch_ = nullptr;
    bias_capacity_ = 0;
    CUDA_CHECK(cudaMalloc(&bias_scratch_, static_cast<size_t>(g.cols) * 2));
    bias_capacity_ = g.cols;
  }
  convert_launch(g.bias, DType::f32, bias_scratch_, DType::bf16, g.cols, stream);
  return bias_scratch_;
}

void GemmRunner::run(const GemmArgs& g, cudaStream_t stream) {
  Plan& plan = plan_for(g);
  if (g.bias) {
    // The pointer is a per-call attribute of the cached descriptor.
    const void* bias = bias_for(g, stream);
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                &bias, sizeof(bias)));
  }
  // beta == 0: cuBLASLt does not read C, so stale or NaN contents of y do not leak.
  CUBLAS_CHECK(cublasLtMatmul(handle_, plan.desc, &g.alpha, g.w, plan.a, g.x, plan.b, &g.beta,
                              g.y, plan.c, g.y, plan.c, &plan.algo, workspace_, workspace_bytes_,
                              stream));
}

void linear_launch(GemmRunner& runner, const GemmArgs& g, cudaStream_t stream) {
  if (g.rows == 0 || g.cols == 0) return;
  if (g.inner <= 0) throw std::invalid_argument("cuda backend linear: K must be positive");
  if (g.t_xw != DType::f32 && g.t_xw != DType::bf16)
    throw std::invalid_argument("cuda backend linear: x and w must be f32 or bf16");
  if (g.t_xw == DType::f32 && g.t_y != DType::f32)
    throw std::invalid_argument("cuda backend linear: f32 inputs need an f32 output");
  runner.run(g, stream);
  if (g.act == Activation::swish)
    activation_launch(g.y, g.t_y, Activation::swish, g.rows * g.cols, stream);
}

}  // namespace gencast::cuda
