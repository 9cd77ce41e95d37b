// cuBLASLt GEMM with bias/gelu epilogues and a cached algorithm per shape
// (see gemm.cuh for the layout identity and the type rules).
#include "gemm.cuh"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/error.h"
#include "cuda_check.cuh"
#include "elementwise.cuh"

namespace gencast::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;

// GEMM tuning (set_gemm_tuning): how many of the heuristic's candidates are
// timed, and by how much one must beat the heuristic's first to replace it.
// The margin keeps close calls on the heuristic's deterministic choice, so
// that timing noise rarely changes which algorithm (and so which last bits)
// a run gets; the choices it is meant for are 15-25 % apart (BENCHMARKS.md,
// round 9).
constexpr int kTuneCandidates = 8;
constexpr float kTuneMargin = 0.9f;

std::atomic<bool> g_tuning{false};
std::atomic<int> g_timed_shapes{0};  // shapes timed by any runner of the process

// Choices of this process, shared by every runner on the same GPU model so
// that all workers of a run use one algorithm per shape: (GPU, plan key) ->
// index into the heuristic's list (deterministic for a GPU model and library).
struct TuneTable {
  std::mutex mutex;
  std::map<std::pair<std::string, std::array<int64_t, 12>>, int> choice;
};
TuneTable& tune_table() {
  static TuneTable table;
  return table;
}

std::string current_gpu_model() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp props{};
  CUDA_CHECK(cudaGetDeviceProperties(&props, device));
  return std::string(props.name) + " sm_" + std::to_string(props.major) +
         std::to_string(props.minor);
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::f16: return CUDA_R_16F;
    default: throw std::invalid_argument("cuda backend linear: x, w and y must be f32, bf16 or f16");
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
  std::array<int64_t, 12> key{};
  // Tuning: the heuristic's candidates, algo = candidates[0] until timed.
  cublasLtMatmulAlgo_t candidates[kTuneCandidates] = {};
  int n_candidates = 0;
  bool tuned = true;
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
  plan->key = key;
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

  cublasLtMatmulHeuristicResult_t results[kTuneCandidates] = {};
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_, plan->desc, plan->a, plan->b, plan->c,
                                              plan->c, pref, g_tuning.load() ? kTuneCandidates : 1,
                                              results, &found));
  if (found == 0)
    throw RuntimeFailure("cuBLASLt has no algorithm for linear R=" + std::to_string(g.rows) +
                         " K=" + std::to_string(g.inner) + " N=" + std::to_string(g.cols) +
                         " (" + dtype_name(g.t_xw) + " -> " + dtype_name(g.t_y) + ")");
  plan->algo = results[0].algo;
  plan->n_candidates = found;
  for (int i = 0; i < found; ++i) plan->candidates[i] = results[i].algo;
  plan->tuned = found < 2;
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
  // Timing runs overwrite y, which only a call that does not read y allows.
  if (!plan.tuned && g.beta == 0.f) tune(plan, g, stream);
  // beta == 0: cuBLASLt does not read C, so stale or NaN contents of y do not leak.
  CUBLAS_CHECK(cublasLtMatmul(handle_, plan.desc, &g.alpha, g.w, plan.a, g.x, plan.b, &g.beta,
                              g.y, plan.c, g.y, plan.c, &plan.algo, workspace_, workspace_bytes_,
                              stream));
}

float GemmRunner::time_algo(Plan& plan, const GemmArgs& g, const cublasLtMatmulAlgo_t& algo,
                            cudaStream_t stream) {
  const auto launch = [&] {
    return cublasLtMatmul(handle_, plan.desc, &g.alpha, g.w, plan.a, g.x, plan.b, &g.beta, g.y,
                          plan.c, g.y, plan.c, &algo, workspace_, workspace_bytes_, stream);
  };
  if (launch() != CUBLAS_STATUS_SUCCESS) {  // warm-up; a candidate may refuse the call
    (void)cudaGetLastError();
    return -1.f;
  }
  cudaEvent_t start = nullptr, stop = nullptr;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  // The best of three batches of three runs: a batch slowed by another
  // worker's kernels on the same GPU does not count.
  float best = -1.f;
  for (int batch = 0; batch < 3; ++batch) {
    CUDA_CHECK(cudaEventRecord(start, stream));
    for (int r = 0; r < 3; ++r) (void)launch();
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (best < 0.f || ms < best) best = ms;
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  return best / 3.f;
}

void GemmRunner::tune(Plan& plan, const GemmArgs& g, cudaStream_t stream) {
  if (gpu_model_.empty()) gpu_model_ = current_gpu_model();
  TuneTable& table = tune_table();
  // Held while timing: a second runner of the same shape waits for the
  // choice instead of timing it again (and slowing this runner's timings).
  const std::lock_guard<std::mutex> lock(table.mutex);
  const auto id = std::make_pair(gpu_model_, plan.key);
  auto it = table.choice.find(id);
  if (it == table.choice.end()) {
    int choice = 0;
    const float first = time_algo(plan, g, plan.candidates[0], stream);
    float best = first;
    for (int i = 1; i < plan.n_candidates; ++i) {
      const float ms = time_algo(plan, g, plan.candidates[i], stream);
      if (ms > 0.f && (best < 0.f || ms < best)) {
        best = ms;
        choice = i;
      }
    }
    if (first > 0.f && best > kTuneMargin * first) choice = 0;  // not clearly faster
    it = table.choice.emplace(id, choice).first;
    ++g_timed_shapes;
  }
  plan.algo = plan.candidates[std::min(it->second, plan.n_candidates - 1)];
  plan.tuned = true;
}

void set_gemm_tuning(bool enabled) { g_tuning.store(enabled); }

int gemm_timed_shapes() { return g_timed_shapes.load(); }

void linear_launch(GemmRunner& runner, const GemmArgs& g, cudaStream_t stream) {
  if (g.rows == 0 || g.cols == 0) return;
  if (g.inner <= 0) throw std::invalid_argument("cuda backend linear: K must be positive");
  if (g.t_xw != DType::f32 && g.t_xw != DType::bf16 && g.t_xw != DType::f16)
    throw std::invalid_argument("cuda backend linear: x and w must be f32, bf16 or f16");
  if (g.t_xw != DType::bf16 && g.t_y != DType::f32)
    throw std::invalid_argument("cuda backend linear: f32 and f16 inputs need an f32 output");
  runner.run(g, stream);
  if (g.act == Activation::swish)
    activation_launch(g.y, g.t_y, Activation::swish, g.rows * g.cols, stream);
}

}  // namespace gencast::cuda
