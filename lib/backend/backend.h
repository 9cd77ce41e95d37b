// The backend seam: one abstract interface that the model, the sampler and the
// runtime are written against, with a CPU float32 reference implementation
// (backend/cpu_backend.*) and a CUDA implementation (kernels/cuda_backend.*).
//
// Ops are row-oriented: a tensor of shape [..., C] is `rows` x C. Every op has
// a plain-loop CPU twin; CUDA kernels are tested against it (tests/unit).
// Ops may run asynchronously; download() and synchronize() wait.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/tensor.h"
#include "config/precision.h"
#include "config/step_transition.h"
#include "core/csr.h"
#include "numerics/noise_key.h"

namespace gencast {

enum class Activation { none, swish, gelu };  // gelu = tanh approximation (jax default)

enum class AttentionTiles { sparse, banded, dense };

// Backend-specific preprocessed form of an attention neighbourhood.
class AttentionPlan {
 public:
  virtual ~AttentionPlan() = default;
  virtual int64_t nodes() const = 0;
  virtual int heads() const = 0;
  virtual int head_dim() const = 0;
};

// Backend-specific precomputed state for spherical-harmonic noise synthesis.
class NoisePlan {
 public:
  virtual ~NoisePlan() = default;
  virtual int64_t n_lat() const = 0;
  virtual int64_t n_lon() const = 0;
};

// Backend-specific copy of StepTransitionTables (config/step_transition.h).
class StepTransitionPlan {
 public:
  virtual ~StepTransitionPlan() = default;
  virtual const StepTransitionTables& tables() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  virtual std::string name() const = 0;         // "cpu", "cuda:0"
  virtual std::string device_name() const = 0;  // e.g. "NVIDIA H100 80GB HBM3"
  virtual Precision precision() const = 0;
  // Element type used for activations/weights at this precision (f32 or bf16).
  virtual DType compute_dtype() const = 0;

  // ---- memory -------------------------------------------------------------
  virtual Tensor empty(Shape shape, DType dtype) = 0;
  Tensor empty_compute(Shape shape) { return empty(std::move(shape), compute_dtype()); }
  virtual void upload(const float* host, Tensor& dst) = 0;  // converts to dst dtype
  virtual void upload_i32(const int32_t* host, Tensor& dst) = 0;
  virtual void download(const Tensor& src, float* host) = 0;  // converts from src dtype
  // download() of a float32 tensor from another host thread while the owner
  // keeps queuing work: the copy has its own queue (CUDA: a second stream),
  // so it neither waits for the work queued after it nor holds it up. The
  // caller guarantees that the work producing `src` has finished
  // (synchronize()) and that nothing writes `src` until this returns; one
  // such call at a time. Default: download() (a backend that computes on the
  // calling thread has nothing to overlap).
  virtual void download_concurrent(const Tensor& src, float* host) { download(src, host); }
  virtual void synchronize() = 0;
  virtual size_t free_memory_bytes() const = 0;
  virtual size_t peak_memory_bytes() const = 0;

  // Host memory for large uploads: page-locked on the CUDA backend (uploads
  // from it are DMA transfers at full bus speed and return before they
  // finish), ordinary memory elsewhere. Uninitialized. Call synchronize()
  // before overwriting a buffer that an upload may still be reading.
  virtual std::shared_ptr<float[]> pinned_host(int64_t count);

  // A promise that t's values never change while any tensor shares its
  // storage (model weights after upload). A backend may keep copies derived
  // from it: the CUDA backend keeps a bf16 copy of a frozen f32 bias, which
  // cuBLASLt needs for bf16 outputs and would otherwise be converted at every
  // linear. Writing to a frozen tensor afterwards is a contract violation.
  virtual void freeze(const Tensor& t) { (void)t; }

  // Convenience: a new tensor holding host data.
  Tensor from_host(const ArrayF& a, DType dtype);
  Tensor from_host_i32(const std::vector<int32_t>& v);
  ArrayF to_host(const Tensor& t);

  // ---- ops ----------------------------------------------------------------
  // y = act(alpha * (x @ w) + bias + beta * y);  x [R,K], w [K,N], bias [N] or null, y [R,N].
  virtual void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                      Activation act = Activation::none, float alpha = 1.f, float beta = 0.f) = 0;
  // Whether linear also takes f16 x and w (f32 y): products of 11-bit
  // significands summed in float32, the precision of TF32 operands, at the
  // tensor cores' f16 rate. Only where linear says so. Such a backend's
  // layer_norm_cond also writes an f16 y from an f32 x (accumulate false).
  virtual bool linear_takes_f16() const { return false; }

  // y = (accumulate ? y : 0) + LN(x) * (1 + cond[0:C]) + cond[C:2C].
  // LN has no learned affine: (x - mean) / sqrt(var + 1e-5). x,y [R,C]; cond [2C] (f32).
  virtual void layer_norm_cond(const Tensor& x, const Tensor& cond, Tensor& y,
                               bool accumulate) = 0;

  // y[r] = act(y[r] + a[ia[r]] + b[ib[r]]): adds per-node projections to edges.
  virtual void gather2_add_act(const Tensor& a, const Tensor& ia, const Tensor& b,
                               const Tensor& ib, Tensor& y, Activation act) = 0;

  // y[n] = sum over e in [offsets[n], offsets[n+1]) of x[e - offsets[0]], n in [0, rows(y)).
  // offsets: i32 [rows(y) + 1], x holds the edges of that receiver range, in order.
  virtual void segment_sum(const Tensor& x, const Tensor& offsets, Tensor& y) = 0;

  // layer_norm_cond of every row of x, then segment_sum, in one pass: the
  // normalized edge messages never exist as a [rows(x), C] tensor. Same
  // offsets contract as segment_sum; cond [2C] (f32) as layer_norm_cond.
  virtual void layer_norm_cond_segment_sum(const Tensor& x, const Tensor& cond,
                                           const Tensor& offsets, Tensor& y) = 0;

  // The message MLP of one chunk of edges and the sum of its messages per
  // segment (receiver or piece), in one op:
  //   h_e  = swish(x[e] @ w0 + b0 + sender_proj[senders[e]] + receiver_proj[receivers[e]])
  //   y[s] = sum over e in segment s of LN(h_e @ w1 + b1) * (1 + cond[0:C]) + cond[C:2C]
  // = linear, gather2_add_act (swish), linear and layer_norm_cond_segment_sum,
  // without the per-edge latents ever in memory. x [E, C]; w0, w1 [C, C];
  // b0, b1 [C] and cond [2C] f32; senders/receivers i32 [E]; offsets i32
  // [S + 1] as segment_sum's; tiles i32 [T + 1] = plan_edge_tiles(offsets,
  // kEdgeTileRows) (backend/edge_tiles.h); y [S, C]. Returns false, doing
  // nothing, when this backend has no fused kernel for these shapes and
  // types (the CPU backend has none): the caller then composes the four ops.
  struct EdgeMlpOperands {
    const Tensor& x;
    const Tensor& w0;
    const Tensor& b0;
    const Tensor& sender_proj;
    const Tensor& senders;
    const Tensor& receiver_proj;
    const Tensor& receivers;
    const Tensor& w1;
    const Tensor& b1;
    const Tensor& cond;
    const Tensor& offsets;
    const Tensor& tiles;
  };
  virtual bool fused_edge_mlp(const EdgeMlpOperands& op, Tensor& y);

  // Exact softmax attention restricted to a neighbourhood (self included).
  // `tiles` says which query/key tiles a tiled implementation visits: only
  // tiles holding neighbours (sparse), every tile inside the band of the
  // banded node order (the reference's tri-block-diagonal form), or all
  // (dense masked attention). All three compute the same function.
  virtual std::unique_ptr<AttentionPlan> plan_attention(const Csr& neighbours, int heads,
                                                        int head_dim, AttentionTiles tiles) = 0;
  // qkv [N, 3*H*D] = [q | k | v], each head-major (h*D + d); out [N, H*D].
  virtual void attention(const AttentionPlan& plan, const Tensor& qkv, Tensor& out) = 0;

  // out = a*x + b*y (out may alias x or y); operands may mix f32 and bf16.
  virtual void axpby(float a, const Tensor& x, float b, const Tensor& y, Tensor& out) = 0;
  // dst = src, converting between f32 and bf16 when the dtypes differ.
  virtual void copy(const Tensor& src, Tensor& dst) = 0;
  // dst[r, col0 + c] = scale * src[r, c] for every row r and c < cols(src),
  // converting between f32 and bf16 either way; dst's other columns keep
  // their values. Writes one operand of a GEMM into its slot of a wider input
  // row (the grid embedder's [static | c_in * x | 0]). rows(src) == rows(dst),
  // 0 <= col0 and col0 + cols(src) <= cols(dst); src and dst must not overlap.
  virtual void copy_columns(const Tensor& src, float scale, Tensor& dst, int64_t col0) = 0;
  virtual void fill(Tensor& t, float value) = 0;

  // Isotropic, unit-variance white noise on the sphere, one independent field
  // per output channel: out [n_lat*n_lon, C] (grid-node-major, lat-major nodes),
  // keys.size() == C. Same keys give the same field on every backend.
  virtual std::unique_ptr<NoisePlan> plan_noise(int64_t n_lat, int64_t n_lon) = 0;
  virtual void sphere_noise(const NoisePlan& plan, std::span<const NoiseKey> keys,
                            Tensor& out) = 0;

  // ---- the 12 h step transition (data/step_transition_plan.h) --------------
  // The host path's float32 operations in the same order (data/normalization.h),
  // so the results are bitwise those of prepare_step_into / targets_to_physical
  // / advance_frames_in_place. Rows: slots of n_grid rows stacked (see
  // config/step_transition.h); every tensor f32 unless said otherwise.
  virtual std::unique_ptr<StepTransitionPlan> plan_step_transition(
      const StepTransitionTables& tables) = 0;
  // physical[r, t] = normalized[r, t] * scale[t] + (residual ? bases[r, t] : offset[t]),
  // NaN instead where the target restores NaN and land[r] != 0.
  // normalized, bases, physical [R, T]; land [R, 1] (frame bits; empty without a land mask).
  virtual void step_to_physical(const StepTransitionPlan& plan, const Tensor& normalized,
                                const Tensor& bases, const Tensor& land, Tensor& physical) = 0;
  // The prediction `physical` becomes the newest input frame of the next step:
  //   bases[r, t] = residual ? (fill-base && isnan(p) ? fill : p) : 0, p = physical[r, t];
  //   land[r] = (land[r] >> 1) | (isnan(physical[r, land_target]) << (frames - 1));
  //   conditioning[r, c] for c < n_conditioning by column kind: kept, this
  //   step's column `index`, (v - mean) / stddev of v = physical[r, index]
  //   (NaN -> fill first where flagged), or forcings[index, r % n_lon];
  //   its other columns untouched. conditioning [R, >= n_conditioning] is f32
  //   or bf16 (rounded to nearest even, as upload()); forcings [rows, n_lon].
  virtual void step_advance(const StepTransitionPlan& plan, const Tensor& physical,
                            const Tensor& forcings, Tensor& bases, Tensor& land,
                            Tensor& conditioning) = 0;
};

}  // namespace gencast
