#include "backend/cpu_backend.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/step_transition_checks.h"
#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"
#include "numerics/sphere_noise_synth.h"

namespace gencast {
namespace {

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string("cpu backend ") + op + ": " + what);
}

void require_f32(const Tensor& t, const char* op) {
  require(t.dtype() == DType::f32, op, "expected an f32 tensor");
}

class CpuAttentionPlan final : public AttentionPlan {
 public:
  CpuAttentionPlan(Csr csr, int heads, int head_dim)
      : csr_(std::move(csr)), heads_(heads), head_dim_(head_dim) {}
  int64_t nodes() const override { return csr_.rows(); }
  int heads() const override { return heads_; }
  int head_dim() const override { return head_dim_; }
  const Csr& csr() const { return csr_; }

 private:
  Csr csr_;
  int heads_;
  int head_dim_;
};

class CpuStepTransitionPlan final : public StepTransitionPlan {
 public:
  explicit CpuStepTransitionPlan(StepTransitionTables tables) : tables_(std::move(tables)) {}
  const StepTransitionTables& tables() const override { return tables_; }

 private:
  StepTransitionTables tables_;
};

const StepTransitionTables& cpu_tables(const StepTransitionPlan& plan, const char* op) {
  require(dynamic_cast<const CpuStepTransitionPlan*>(&plan) != nullptr, op,
          "plan was made by another backend");
  return plan.tables();
}

class CpuNoisePlan final : public NoisePlan {
 public:
  CpuNoisePlan(int64_t n_lat, int64_t n_lon) : synth_(n_lat, n_lon) {}
  int64_t n_lat() const override { return synth_.n_lat(); }
  int64_t n_lon() const override { return synth_.n_lon(); }
  const SphereNoiseSynth& synth() const { return synth_; }

 private:
  SphereNoiseSynth synth_;
};

// Per-row work of a pass over C columns, with or without an activation.
int64_t elementwise_work(int64_t C, Activation act) {
  return C * (act == Activation::none ? 1 : kTranscendentalWork);
}

// Mean rows per segment (at least 1), for a segment op's per-row work.
int64_t mean_segment(int64_t input_rows, int64_t segments) {
  return std::max<int64_t>(input_rows / std::max<int64_t>(segments, 1), 1);
}

}  // namespace

float activation_value(Activation act, float x) {
  switch (act) {
    case Activation::none: return x;
    case Activation::swish: return x / (1.f + std::exp(-x));
    case Activation::gelu: {
      // jax.nn.gelu(approximate=True): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const float c = 0.7978845608028654f;
      return 0.5f * x * (1.f + std::tanh(c * (x + 0.044715f * x * x * x)));
    }
  }
  return x;
}

std::string CpuBackend::device_name() const {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos) return line.substr(pos + 2);
    }
  }
  return "CPU";
}

Tensor CpuBackend::empty(Shape shape, DType dtype) {
  require(dtype != DType::bf16, "empty", "bf16 tensors are not supported on the CPU");
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  char* raw = new char[std::max<size_t>(bytes, 1)];
  live_bytes_ += bytes;
  peak_bytes_ = std::max(peak_bytes_, live_bytes_);
  std::shared_ptr<void> storage(raw, [this, bytes](void* p) {
    live_bytes_ -= bytes;
    delete[] static_cast<char*>(p);
  });
  return Tensor(this, std::move(shape), dtype, std::move(storage), raw);
}

void CpuBackend::upload(const float* host, Tensor& dst) {
  require_f32(dst, "upload");
  std::memcpy(dst.data(), host, dst.bytes());
}

void CpuBackend::upload_i32(const int32_t* host, Tensor& dst) {
  require(dst.dtype() == DType::i32, "upload_i32", "expected an i32 tensor");
  std::memcpy(dst.data(), host, dst.bytes());
}

void CpuBackend::download(const Tensor& src, float* host) {
  require_f32(src, "download");
  std::memcpy(host, src.data(), src.bytes());
}

size_t CpuBackend::free_memory_bytes() const {
  const long pages = sysconf(_SC_AVPHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
}

namespace {

// acc[n] = sum over k = 0, 1, ... of xr[k] * w[k][n], accumulated in k order.
// acc is the caller's scratch, never an input. Saying so (__restrict) lets
// GCC unroll-and-jam the k loop (two k per pass over acc, each addition still
// in k order); without it the loop is versioned for aliasing instead and ran
// 1.6-1.9x slower (the OpenMP-outlined loop got the fast form by itself).
void row_times_matrix(const float* __restrict xr, const float* __restrict wp, int64_t K,
                      int64_t N, float* __restrict acc) {
  std::fill(acc, acc + N, 0.f);
  for (int64_t k = 0; k < K; ++k) {
    const float xv = xr[k];
    const float* wk = wp + k * N;
    for (int64_t n = 0; n < N; ++n) acc[n] += xv * wk[n];
  }
}

// Rows [r0, r1) of linear().
void linear_rows(int64_t r0, int64_t r1, const float* xp, const float* wp, const float* bp,
                 float* yp, int64_t K, int64_t N, Activation act, float alpha, float beta) {
  std::vector<float> acc(static_cast<size_t>(N));
  for (int64_t r = r0; r < r1; ++r) {
    row_times_matrix(xp + r * K, wp, K, N, acc.data());
    float* yr = yp + r * N;
    for (int64_t n = 0; n < N; ++n) {
      float v = alpha * acc[n];
      if (bp) v += bp[n];
      if (beta != 0.f) v += beta * yr[n];
      yr[n] = activation_value(act, v);
    }
  }
}

}  // namespace

void CpuBackend::linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                        Activation act, float alpha, float beta) {
  require_f32(x, "linear");
  require_f32(w, "linear");
  require_f32(y, "linear");
  const int64_t R = x.rows(), K = x.cols(), N = w.cols();
  require(w.shape().size() == 2 && w.shape()[0] == K, "linear",
          "weight rows must equal input columns");
  require(y.rows() == R && y.cols() == N, "linear", "output shape mismatch");
  require(!bias || (bias->numel() == N && bias->dtype() == DType::f32), "linear",
          "bias must have N f32 elements");
  const float* xp = x.as<float>();
  const float* wp = w.as<float>();
  const float* bp = bias ? bias->as<float>() : nullptr;
  float* yp = y.as<float>();
  parallel_for(
      R,
      [&](int64_t r0, int64_t r1) { linear_rows(r0, r1, xp, wp, bp, yp, K, N, act, alpha, beta); },
      parallel_min_rows(K * N + elementwise_work(N, act)));
}

namespace {

// layer_norm_cond_row's operations per column: two passes for the moments,
// one for the output.
constexpr int64_t kLayerNormWork = 4;

// yr (+)= LN(xr) * (1 + scale) + offset over C columns; mean and variance in
// double. The one row kernel of layer_norm_cond and layer_norm_cond_segment_sum,
// so that the fused op gives exactly the unfused result on this backend.
void layer_norm_cond_row(const float* xr, int64_t C, const float* scale, const float* offset,
                         float* yr, bool accumulate) {
  double mean = 0;
  for (int64_t c = 0; c < C; ++c) mean += xr[c];
  mean /= static_cast<double>(C);
  double var = 0;
  for (int64_t c = 0; c < C; ++c) {
    const double d = xr[c] - mean;
    var += d * d;
  }
  var /= static_cast<double>(C);
  const auto inv = static_cast<float>(1.0 / std::sqrt(var + 1e-5));
  const auto m = static_cast<float>(mean);
  for (int64_t c = 0; c < C; ++c) {
    const float v = (xr[c] - m) * inv * (1.f + scale[c]) + offset[c];
    yr[c] = accumulate ? yr[c] + v : v;
  }
}

}  // namespace

void CpuBackend::layer_norm_cond(const Tensor& x, const Tensor& cond, Tensor& y,
                                 bool accumulate) {
  require_f32(x, "layer_norm_cond");
  require_f32(y, "layer_norm_cond");
  require_f32(cond, "layer_norm_cond");
  const int64_t R = x.rows(), C = x.cols();
  require(y.rows() == R && y.cols() == C, "layer_norm_cond", "output shape mismatch");
  require(cond.numel() == 2 * C, "layer_norm_cond", "cond must have 2*C elements");
  const float* xp = x.as<float>();
  const float* scale = cond.as<float>();
  const float* offset = scale + C;
  float* yp = y.as<float>();
  parallel_for(
      R,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          layer_norm_cond_row(xp + r * C, C, scale, offset, yp + r * C, accumulate);
      },
      parallel_min_rows(kLayerNormWork * C));
}

void CpuBackend::gather2_add_act(const Tensor& a, const Tensor& ia, const Tensor& b,
                                 const Tensor& ib, Tensor& y, Activation act) {
  require_f32(a, "gather2_add_act");
  require_f32(b, "gather2_add_act");
  require_f32(y, "gather2_add_act");
  require(ia.dtype() == DType::i32 && ib.dtype() == DType::i32, "gather2_add_act",
          "indices must be i32");
  const int64_t R = y.rows(), C = y.cols();
  require(ia.numel() == R && ib.numel() == R, "gather2_add_act", "one index per output row");
  require(a.cols() == C && b.cols() == C, "gather2_add_act", "column mismatch");
  const int32_t* iap = ia.as<int32_t>();
  const int32_t* ibp = ib.as<int32_t>();
  const float* ap = a.as<float>();
  const float* bp = b.as<float>();
  float* yp = y.as<float>();
  const int64_t ra = a.rows(), rb = b.rows();
  // A bad index throws from whichever range meets it; parallel_for rethrows
  // it on the caller (the lowest failing range's) once every range is done.
  parallel_for(
      R,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t i = iap[r], j = ibp[r];
          if (i < 0 || i >= ra || j < 0 || j >= rb) throw std::out_of_range("gather index");
          float* yr = yp + r * C;
          const float* ar = ap + i * C;
          const float* br = bp + j * C;
          for (int64_t c = 0; c < C; ++c) yr[c] = activation_value(act, yr[c] + ar[c] + br[c]);
        }
      },
      parallel_min_rows(elementwise_work(C, act)));
}

void CpuBackend::segment_sum(const Tensor& x, const Tensor& offsets, Tensor& y) {
  require_f32(x, "segment_sum");
  require_f32(y, "segment_sum");
  require(offsets.dtype() == DType::i32, "segment_sum", "offsets must be i32");
  const int64_t N = y.rows(), C = y.cols();
  require(offsets.numel() == N + 1, "segment_sum", "offsets must have rows(y)+1 entries");
  require(x.cols() == C, "segment_sum", "column mismatch");
  const int32_t* off = offsets.as<int32_t>();
  const int64_t base = off[0];
  require(off[N] - base == x.rows(), "segment_sum", "offsets do not cover the input rows");
  const float* xp = x.as<float>();
  float* yp = y.as<float>();
  parallel_for(
      N,
      [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
          float* yr = yp + n * C;
          std::fill(yr, yr + C, 0.f);
          for (int64_t e = off[n]; e < off[n + 1]; ++e) {
            const float* xr = xp + (e - base) * C;
            for (int64_t c = 0; c < C; ++c) yr[c] += xr[c];
          }
        }
      },
      parallel_min_rows(mean_segment(x.rows(), N) * C));
}

void CpuBackend::layer_norm_cond_segment_sum(const Tensor& x, const Tensor& cond,
                                             const Tensor& offsets, Tensor& y) {
  const char* op = "layer_norm_cond_segment_sum";
  require_f32(x, op);
  require_f32(y, op);
  require_f32(cond, op);
  require(offsets.dtype() == DType::i32, op, "offsets must be i32");
  const int64_t N = y.rows(), C = y.cols();
  require(offsets.numel() == N + 1, op, "offsets must have rows(y)+1 entries");
  require(x.cols() == C, op, "column mismatch");
  require(cond.numel() == 2 * C, op, "cond must have 2*C elements");
  const int32_t* off = offsets.as<int32_t>();
  const int64_t base = off[0];
  require(off[N] - base == x.rows(), op, "offsets do not cover the input rows");
  const float* xp = x.as<float>();
  const float* scale = cond.as<float>();
  float* yp = y.as<float>();
  parallel_for(
      N,
      [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
          float* yr = yp + n * C;
          std::fill(yr, yr + C, 0.f);
          for (int64_t e = off[n]; e < off[n + 1]; ++e)
            layer_norm_cond_row(xp + (e - base) * C, C, scale, scale + C, yr, true);
        }
      },
      parallel_min_rows(mean_segment(x.rows(), N) * kLayerNormWork * C));
}

std::unique_ptr<AttentionPlan> CpuBackend::plan_attention(const Csr& neighbours, int heads,
                                                          int head_dim, AttentionTiles) {
  return std::make_unique<CpuAttentionPlan>(neighbours, heads, head_dim);
}

void CpuBackend::attention(const AttentionPlan& plan_base, const Tensor& qkv, Tensor& out) {
  const auto* plan = dynamic_cast<const CpuAttentionPlan*>(&plan_base);
  require(plan != nullptr, "attention", "plan was made by another backend");
  require_f32(qkv, "attention");
  require_f32(out, "attention");
  const int H = plan->heads(), D = plan->head_dim();
  const int64_t N = plan->nodes(), HD = int64_t{H} * D;
  require(qkv.rows() == N && qkv.cols() == 3 * HD, "attention", "qkv must be [N, 3*H*D]");
  require(out.rows() == N && out.cols() == HD, "attention", "out must be [N, H*D]");
  const Csr& csr = plan->csr();
  const float* base = qkv.as<float>();
  float* op = out.as<float>();
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  // Per pair and head: a dot product, an exp and an axpy.
  const int64_t work_per_node =
      mean_segment(csr.nnz(), N) * H * (2 * int64_t{D} + kTranscendentalWork);
  parallel_for(
      N,
      [&](int64_t n0, int64_t n1) {
        std::vector<float> logits;
        for (int64_t n = n0; n < n1; ++n) {
          const int64_t begin = csr.offsets[n], end = csr.offsets[n + 1];
          logits.resize(static_cast<size_t>(end - begin));
          for (int h = 0; h < H; ++h) {
            const float* q = base + n * 3 * HD + h * D;
            float mx = -INFINITY;
            for (int64_t e = begin; e < end; ++e) {
              const float* k = base + int64_t{csr.indices[e]} * 3 * HD + HD + h * D;
              float s = 0.f;
              for (int d = 0; d < D; ++d) s += q[d] * k[d];
              s *= scale;
              logits[e - begin] = s;
              mx = std::max(mx, s);
            }
            double denom = 0;
            for (auto& l : logits) {
              l = std::exp(l - mx);
              denom += l;
            }
            float* o = op + n * HD + h * D;
            std::fill(o, o + D, 0.f);
            for (int64_t e = begin; e < end; ++e) {
              const float p = static_cast<float>(logits[e - begin] / denom);
              const float* v = base + int64_t{csr.indices[e]} * 3 * HD + 2 * HD + h * D;
              for (int d = 0; d < D; ++d) o[d] += p * v[d];
            }
          }
        }
      },
      parallel_min_rows(work_per_node));
}

void CpuBackend::axpby(float a, const Tensor& x, float b, const Tensor& y, Tensor& out) {
  require_f32(x, "axpby");
  require_f32(y, "axpby");
  require_f32(out, "axpby");
  require(x.numel() == out.numel() && y.numel() == out.numel(), "axpby", "size mismatch");
  const float* xp = x.as<float>();
  const float* yp = y.as<float>();
  float* op = out.as<float>();
  parallel_for(
      out.numel(),
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) op[i] = a * xp[i] + b * yp[i];
      },
      parallel_min_rows(1));
}

void CpuBackend::copy(const Tensor& src, Tensor& dst) {
  require(src.numel() == dst.numel(), "copy", "size mismatch");
  const int64_t n = src.numel();
  if (src.dtype() == dst.dtype()) {
    std::memcpy(dst.data(), src.data(), src.bytes());
  } else if (src.dtype() == DType::f32 && dst.dtype() == DType::f16) {
    const float* s = src.as<float>();
    auto* d = static_cast<uint16_t*>(dst.data());
    for (int64_t i = 0; i < n; ++i) d[i] = float_to_half_bits(s[i]);
  } else if (src.dtype() == DType::f16 && dst.dtype() == DType::f32) {
    const auto* s = static_cast<const uint16_t*>(src.data());
    float* d = dst.as<float>();
    for (int64_t i = 0; i < n; ++i) d[i] = half_bits_to_float(s[i]);
  } else {
    require(false, "copy",
            std::string("cannot convert ") + dtype_name(src.dtype()) + " to " +
                dtype_name(dst.dtype()) + " on the CPU (f32 <-> f16 only)");
  }
}

void CpuBackend::copy_columns(const Tensor& src, float scale, Tensor& dst, int64_t col0) {
  const char* op = "copy_columns";
  require_f32(src, op);
  require_f32(dst, op);
  const int64_t R = src.rows(), C = src.cols(), D = dst.cols();
  require(dst.rows() == R, op,
          "src has " + std::to_string(R) + " rows, dst " + std::to_string(dst.rows()));
  require(col0 >= 0 && col0 + C <= D, op,
          "columns [" + std::to_string(col0) + ", " + std::to_string(col0 + C) +
              ") outside dst's " + std::to_string(D));
  const auto* s0 = static_cast<const char*>(src.data());
  const auto* d0 = static_cast<const char*>(dst.data());
  require(src.bytes() == 0 || dst.bytes() == 0 || s0 >= d0 + dst.bytes() ||
              d0 >= s0 + src.bytes(),
          op, "src and dst must not overlap");
  const float* sp = src.as<float>();
  float* dp = dst.as<float>();
  parallel_for(
      R,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = 0; c < C; ++c) dp[r * D + col0 + c] = scale * sp[r * C + c];
      },
      parallel_min_rows(C));
}

void CpuBackend::fill(Tensor& t, float value) {
  require_f32(t, "fill");
  std::fill(t.as<float>(), t.as<float>() + t.numel(), value);
}

std::unique_ptr<NoisePlan> CpuBackend::plan_noise(int64_t n_lat, int64_t n_lon) {
  return std::make_unique<CpuNoisePlan>(n_lat, n_lon);
}

void CpuBackend::sphere_noise(const NoisePlan& plan_base, std::span<const NoiseKey> keys,
                              Tensor& out) {
  const auto* plan = dynamic_cast<const CpuNoisePlan*>(&plan_base);
  require(plan != nullptr, "sphere_noise", "plan was made by another backend");
  require_f32(out, "sphere_noise");
  require(out.rows() == plan->n_lat() * plan->n_lon() &&
              out.cols() == static_cast<int64_t>(keys.size()),
          "sphere_noise", "out must be [n_lat*n_lon, keys.size()]");
  plan->synth().sample(keys, out.as<float>());
}

std::unique_ptr<StepTransitionPlan> CpuBackend::plan_step_transition(
    const StepTransitionTables& tables) {
  check_step_tables(tables, "cpu");
  return std::make_unique<CpuStepTransitionPlan>(tables);
}

// The float32 operations of targets_to_physical (data/normalization.cpp), in
// its order: one product, one sum.
void CpuBackend::step_to_physical(const StepTransitionPlan& plan, const Tensor& normalized,
                                  const Tensor& bases, const Tensor& land, Tensor& physical) {
  const StepTransitionTables& t = cpu_tables(plan, "step_to_physical");
  check_step_to_physical(t, normalized, bases, land, physical, "cpu");
  for (const Tensor* x : std::initializer_list<const Tensor*>{&normalized, &bases, &physical})
    require_f32(*x, "step_to_physical");
  const int64_t T = t.n_targets();
  const float* x = normalized.as<float>();
  const float* base = bases.as<float>();
  const float* mask = t.land_target >= 0 ? land.as<float>() : nullptr;
  float* out = physical.as<float>();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  parallel_for(
      normalized.rows(),
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const bool on_land = mask && mask[r] != 0.f;
          for (int64_t c = 0; c < T; ++c) {
            const int64_t i = r * T + c;
            const uint8_t flags = t.target_flags[static_cast<size_t>(c)];
            const float scaled = x[i] * t.scale[static_cast<size_t>(c)];
            float value = (flags & kStepResidual) ? scaled + base[i]
                                                  : scaled + t.offset[static_cast<size_t>(c)];
            if (on_land && (flags & kStepRestoreNan)) value = nan;
            out[i] = value;
          }
        }
      },
      parallel_min_rows(T));
}

// prepare_step_into's operations on the newest frame (data/normalization.cpp):
// NaN fill, then (v - mean) / stddev; the older frames' columns are this
// step's columns, moved.
void CpuBackend::step_advance(const StepTransitionPlan& plan, const Tensor& physical,
                              const Tensor& forcings, Tensor& bases, Tensor& land,
                              Tensor& conditioning) {
  const StepTransitionTables& t = cpu_tables(plan, "step_advance");
  check_step_advance(t, physical, forcings, bases, land, conditioning, "cpu");
  for (const Tensor* x : std::initializer_list<const Tensor*>{&physical, &bases, &conditioning})
    require_f32(*x, "step_advance");
  const int64_t T = t.n_targets(), K = t.n_conditioning(), W = conditioning.cols();
  const float* p = physical.as<float>();
  const float* forc = t.forcing_rows > 0 ? forcings.as<float>() : nullptr;
  float* base = bases.as<float>();
  float* mask = t.land_target >= 0 ? land.as<float>() : nullptr;
  float* cond = conditioning.as<float>();
  const uint32_t newest_bit = 1u << (t.frames - 1);
  parallel_for(
      physical.rows(),
      [&](int64_t r0, int64_t r1) {
        std::vector<float> row(static_cast<size_t>(K));
        for (int64_t r = r0; r < r1; ++r) {
          const float* pr = p + r * T;
          for (int64_t c = 0; c < T; ++c) {
            const uint8_t flags = t.target_flags[static_cast<size_t>(c)];
            float v = 0.f;
            if (flags & kStepResidual) v = (flags & kStepFillBase) && std::isnan(pr[c]) ? t.fill : pr[c];
            base[r * T + c] = v;
          }
          if (mask) {
            const auto bits = static_cast<uint32_t>(mask[r]);
            mask[r] = static_cast<float>((bits >> 1) | (std::isnan(pr[t.land_target]) ? newest_bit : 0u));
          }
          float* cr = cond + r * W;
          // Every source first (shifts read this step's columns), then the writes.
          for (int64_t c = 0; c < K; ++c) {
            const auto k = static_cast<size_t>(c);
            const int32_t i = t.column_index[k];
            switch (t.column_kind[k]) {
              case kColumnShift: row[k] = cr[i]; break;
              case kColumnNewest: {
                const float x = t.column_fill_nan[k] && std::isnan(pr[i]) ? t.fill : pr[i];
                row[k] = (x - t.mean[k]) / t.stddev[k];
                break;
              }
              case kColumnForcing: row[k] = forc[i * t.n_lon + r % t.n_lon]; break;
              default: break;
            }
          }
          for (int64_t c = 0; c < K; ++c)
            if (t.column_kind[static_cast<size_t>(c)] != kColumnKeep) cr[c] = row[static_cast<size_t>(c)];
        }
      },
      parallel_min_rows(K + T));
}

}  // namespace gencast
