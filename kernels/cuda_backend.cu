// CudaBackend: memory, transfers, and the shape/dtype checks of every op
// before its *_launch (see cuda_backend.cuh for the invariants).
#include "cuda_backend.cuh"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention.cuh"
#include "attention_tiles.h"
#include "core/error.h"
#include "cuda_check.cuh"
#include "edge_mlp.cuh"
#include "elementwise.cuh"
#include "gather_scatter.cuh"
#include "gemm.cuh"
#include "layernorm.cuh"
#include "sphere_noise.cuh"
#include "step_transition.cuh"

namespace gencast::cuda {
namespace {

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string("cuda backend ") + op + ": " + what);
}

bool is_float_type(DType t) { return t == DType::f32 || t == DType::bf16; }

void require_float(const Tensor& t, const char* op, const char* name) {
  require(is_float_type(t.dtype()), op,
          std::string(name) + " must be f32 or bf16, found " + dtype_name(t.dtype()));
}

bool overlap(const Tensor& a, const Tensor& b) {
  const auto* a0 = static_cast<const char*>(a.data());
  const auto* b0 = static_cast<const char*>(b.data());
  return a.bytes() > 0 && b.bytes() > 0 && a0 < b0 + b.bytes() && b0 < a0 + a.bytes();
}

float bf16_bits_to_float(uint16_t bits) {
  const uint32_t wide = uint32_t{bits} << 16;  // bf16 is the top half of an f32: exact
  float f;
  std::memcpy(&f, &wide, sizeof f);
  return f;
}

}  // namespace

CudaBackend::CudaBackend(int device, Precision precision)
    : device_(device), precision_(precision) {
  CUDA_CHECK(cudaSetDevice(device_));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
  device_name_ = prop.name;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  gemm_ = std::make_unique<GemmRunner>();
  live_bytes_ += gemm_->workspace_bytes();
  peak_bytes_ = live_bytes_.load();
}

CudaBackend::~CudaBackend() {
  // Destructors must not throw: errors here are ignored. The bf16 copies go
  // back to the cache first (their deleters use the cache).
  frozen_half_.clear();
  release_cache();
  gemm_.reset();
  cudaStreamDestroy(copy_stream_);
  cudaStreamDestroy(stream_);
}

void CudaBackend::activate() const { CUDA_CHECK(cudaSetDevice(device_)); }

void CudaBackend::check_owned(const Tensor& t, const char* op) const {
  require(t.backend() == this || t.numel() == 0, op,
          "tensor belongs to another backend (" +
              (t.backend() ? t.backend()->name() : std::string("none")) + ")");
}

// Sizes are rounded up to 512 bytes so that tensors of nearly equal size
// share cached blocks; the model allocates the same shapes every layer.
constexpr size_t kAllocationGranule = 512;

void* CudaBackend::allocate(size_t bytes) {
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cached_blocks_.find(bytes);
    if (it != cached_blocks_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= bytes;
      return p;
    }
  }
  void* raw = nullptr;
  cudaError_t err = cudaMalloc(&raw, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear the error, give the cache back, try once more
    release_cache();
    err = cudaMalloc(&raw, bytes);
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw RuntimeFailure("CUDA out of memory on " + name() + " (" + device_name_ + "): asked for " +
                         std::to_string(bytes >> 20) + " MiB with " +
                         std::to_string(free_b >> 20) + " MiB free of " +
                         std::to_string(total_b >> 20) + " MiB; this backend holds " +
                         std::to_string(live_bytes_.load() >> 20) + " MiB (" +
                         cudaGetErrorString(err) + ")");
  }
  return raw;
}

void CudaBackend::recycle(void* p, size_t bytes) noexcept {
  try {
    std::lock_guard lock(cache_mutex_);
    cached_blocks_[bytes].push_back(p);
    cached_bytes_ += bytes;
  } catch (...) {
    // No memory for the cache's bookkeeping: return the block to the driver.
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    cudaFree(p);
  }
  live_bytes_ -= bytes;
}

void CudaBackend::release_cache() noexcept {
  std::lock_guard lock(cache_mutex_);
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);  // the blocks' last users may still be queued
  for (auto& [bytes, blocks] : cached_blocks_)
    for (void* p : blocks) cudaFree(p);
  cached_blocks_.clear();
  cached_bytes_ = 0;
}

Tensor CudaBackend::empty(Shape shape, DType dtype) {
  activate();
  const size_t requested = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  if (requested == 0) return Tensor(this, std::move(shape), dtype, nullptr, nullptr);
  const size_t bytes = (requested + kAllocationGranule - 1) / kAllocationGranule * kAllocationGranule;
  void* raw = allocate(bytes);
  const size_t live = live_bytes_.fetch_add(bytes) + bytes;
  size_t peak = peak_bytes_.load();
  while (live > peak && !peak_bytes_.compare_exchange_weak(peak, live)) {
  }
  std::shared_ptr<void> storage(raw, [this, bytes](void* p) { recycle(p, bytes); });
  return Tensor(this, std::move(shape), dtype, std::move(storage), raw);
}

void CudaBackend::upload(const float* host, Tensor& dst) {
  activate();
  check_owned(dst, "upload");
  require_float(dst, "upload", "dst");
  if (dst.numel() == 0) return;
  if (dst.dtype() == DType::f32) {
    // Pageable source: the call returns once the data is staged, so `host` may go away.
    CUDA_CHECK(cudaMemcpyAsync(dst.data(), host, dst.bytes(), cudaMemcpyHostToDevice, stream_));
    return;
  }
  // bf16: copy the f32 values, convert on the device (round to nearest even).
  Tensor staging = empty(dst.shape(), DType::f32);
  CUDA_CHECK(cudaMemcpyAsync(staging.data(), host, staging.bytes(), cudaMemcpyHostToDevice,
                             stream_));
  convert_launch(staging.data(), DType::f32, dst.data(), dst.dtype(), dst.numel(), stream_);
  // `staging` returns to the cache; a later user of its block queues after the conversion.
}

std::shared_ptr<float[]> CudaBackend::pinned_host(int64_t count) {
  activate();
  void* p = nullptr;
  CUDA_CHECK(cudaHostAlloc(&p, static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(float),
                           cudaHostAllocDefault));
  return std::shared_ptr<float[]>(static_cast<float*>(p), [](float* q) { cudaFreeHost(q); });
}

void CudaBackend::upload_i32(const int32_t* host, Tensor& dst) {
  activate();
  check_owned(dst, "upload_i32");
  require(dst.dtype() == DType::i32, "upload_i32", "expected an i32 tensor");
  if (dst.numel() == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst.data(), host, dst.bytes(), cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::download(const Tensor& src, float* host) {
  activate();
  check_owned(src, "download");
  require_float(src, "download", "src");
  if (src.numel() == 0) return;
  if (src.dtype() == DType::f32) {
    CUDA_CHECK(cudaMemcpyAsync(host, src.data(), src.bytes(), cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  std::vector<uint16_t> raw(static_cast<size_t>(src.numel()));
  CUDA_CHECK(cudaMemcpyAsync(raw.data(), src.data(), src.bytes(), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  std::transform(raw.begin(), raw.end(), host, bf16_bits_to_float);
}

void CudaBackend::download_concurrent(const Tensor& src, float* host) {
  activate();  // this thread's current device
  check_owned(src, "download_concurrent");
  require(src.dtype() == DType::f32, "download_concurrent", "src must be float32");
  if (src.numel() == 0) return;
  CUDA_CHECK(
      cudaMemcpyAsync(host, src.data(), src.bytes(), cudaMemcpyDeviceToHost, copy_stream_));
  CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
}

void CudaBackend::synchronize() {
  activate();
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

size_t CudaBackend::free_memory_bytes() const {
  activate();
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  std::lock_guard lock(cache_mutex_);
  return free_b + cached_bytes_;  // cached blocks are ours to reuse
}

void CudaBackend::linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                         Activation act, float alpha, float beta) {
  activate();
  const char* op = "linear";
  check_owned(x, op);
  check_owned(w, op);
  check_owned(y, op);
  require(is_float_type(x.dtype()) || x.dtype() == DType::f16, op,
          std::string("x must be f32, bf16 or f16, found ") + dtype_name(x.dtype()));
  require(w.dtype() == x.dtype(), op, "w must have the dtype of x");
  require_float(y, op, "y");
  require(y.dtype() == DType::f32 || x.dtype() == DType::bf16, op,
          "a bf16 output needs bf16 inputs");
  const int64_t R = x.rows(), K = x.cols(), N = w.cols();
  require(w.shape().size() == 2 && w.shape()[0] == K, op, "weight rows must equal input columns");
  require(y.rows() == R && y.cols() == N, op, "output shape mismatch");
  if (bias) {
    check_owned(*bias, op);
    require(bias->numel() == N && bias->dtype() == DType::f32, op, "bias must have N f32 elements");
  }
  require(!overlap(x, y) && !overlap(w, y), op, "y must not overlap x or w");
  GemmArgs g;
  g.x = x.data();
  g.w = w.data();
  g.t_xw = x.dtype();
  g.bias = bias && bias->numel() > 0 ? bias->as<float>() : nullptr;
  if (g.bias && y.dtype() == DType::bf16) g.bias_half = frozen_half(g.bias, N);
  g.y = y.data();
  g.t_y = y.dtype();
  g.rows = R;
  g.inner = K;
  g.cols = N;
  g.act = act;
  g.alpha = alpha;
  g.beta = beta;
  // f32 operands run on TF32 tensor cores only when asked for; under bf16 the
  // model keeps some tensors f32 on purpose, and those stay true float32.
  g.tf32 = precision_ == Precision::tf32;
  linear_launch(*gemm_, g, stream_);
}

void CudaBackend::freeze(const Tensor& t) {
  activate();
  check_owned(t, "freeze");
  // Only f32 vectors under bf16 compute have a use for a copy (biases of
  // bf16-output linears); anything else is frozen without one.
  if (compute_dtype() != DType::bf16 || t.dtype() != DType::f32 || t.rows() != 1 ||
      t.numel() == 0)
    return;
  std::erase_if(frozen_half_, [](const auto& e) { return e.second.storage.expired(); });
  Tensor half = empty({t.numel()}, DType::bf16);
  convert_launch(t.data(), DType::f32, half.data(), DType::bf16, t.numel(), stream_);
  frozen_half_[t.data()] = FrozenHalf{t.storage_watch(), t.numel(), std::move(half)};
}

const void* CudaBackend::frozen_half(const void* data, int64_t numel) {
  const auto it = frozen_half_.find(data);
  if (it == frozen_half_.end()) return nullptr;
  if (it->second.storage.expired()) {
    frozen_half_.erase(it);
    return nullptr;
  }
  return it->second.numel == numel ? it->second.half.data() : nullptr;
}

void CudaBackend::layer_norm_cond(const Tensor& x, const Tensor& cond, Tensor& y,
                                  bool accumulate) {
  activate();
  const char* op = "layer_norm_cond";
  check_owned(x, op);
  check_owned(cond, op);
  check_owned(y, op);
  require_float(x, op, "x");
  // f16 output: tf32's f16 GEMM operands (float32 input, no accumulation).
  const bool half_out = y.dtype() == DType::f16 && x.dtype() == DType::f32 && !accumulate;
  if (!half_out) require_float(y, op, "y");
  require(cond.dtype() == DType::f32, op, "cond must be f32");
  const int64_t R = x.rows(), C = x.cols();
  require(y.rows() == R && y.cols() == C, op, "output shape mismatch");
  require(cond.numel() == 2 * C, op, "cond must have 2*C elements");
  require(!overlap(x, y), op, "y must not overlap x");
  layer_norm_cond_launch(x.data(), x.dtype(), cond.as<float>(), y.data(), y.dtype(), R, C,
                         accumulate, stream_);
}

void CudaBackend::gather2_add_act(const Tensor& a, const Tensor& ia, const Tensor& b,
                                  const Tensor& ib, Tensor& y, Activation act) {
  activate();
  const char* op = "gather2_add_act";
  for (const Tensor* t : {&a, &ia, &b, &ib}) check_owned(*t, op);
  check_owned(y, op);
  require_float(a, op, "a");
  require(b.dtype() == a.dtype(), op, "a and b must have the same dtype");
  require_float(y, op, "y");
  require(ia.dtype() == DType::i32 && ib.dtype() == DType::i32, op, "indices must be i32");
  const int64_t R = y.rows(), C = y.cols();
  require(ia.numel() == R && ib.numel() == R, op, "one index per output row");
  require(a.cols() == C && b.cols() == C, op, "column mismatch");
  require(!overlap(a, y) && !overlap(b, y), op, "y must not overlap a or b");
  gather2_add_act_launch(a.data(), a.rows(), ia.as<int32_t>(), b.data(), b.rows(),
                         ib.as<int32_t>(), a.dtype(), y.data(), y.dtype(), R, C, act, stream_);
}

void CudaBackend::segment_sum(const Tensor& x, const Tensor& offsets, Tensor& y) {
  activate();
  const char* op = "segment_sum";
  check_owned(x, op);
  check_owned(offsets, op);
  check_owned(y, op);
  require_float(x, op, "x");
  require_float(y, op, "y");
  require(offsets.dtype() == DType::i32, op, "offsets must be i32");
  const int64_t N = y.rows(), C = y.cols();
  require(offsets.numel() == N + 1, op, "offsets must have rows(y)+1 entries");
  require(x.cols() == C || x.numel() == 0, op, "column mismatch");
  require(!overlap(x, y), op, "y must not overlap x");
  // The offsets stay on the device; a range outside x yields NaN rows (see
  // gather_scatter.cuh) instead of a host round trip to check them here.
  segment_sum_launch(x.data(), x.dtype(), x.rows(), offsets.as<int32_t>(), y.data(), y.dtype(), N,
                     C, stream_);
}

void CudaBackend::layer_norm_cond_segment_sum(const Tensor& x, const Tensor& cond,
                                              const Tensor& offsets, Tensor& y) {
  activate();
  const char* op = "layer_norm_cond_segment_sum";
  check_owned(x, op);
  check_owned(cond, op);
  check_owned(offsets, op);
  check_owned(y, op);
  require_float(x, op, "x");
  require_float(y, op, "y");
  require(cond.dtype() == DType::f32, op, "cond must be f32");
  require(offsets.dtype() == DType::i32, op, "offsets must be i32");
  const int64_t N = y.rows(), C = y.cols();
  require(offsets.numel() == N + 1, op, "offsets must have rows(y)+1 entries");
  require(x.cols() == C || x.numel() == 0, op, "column mismatch");
  require(cond.numel() == 2 * C, op, "cond must have 2*C elements");
  require(!overlap(x, y), op, "y must not overlap x");
  if (layer_norm_cond_segment_sum_launch(x.data(), x.dtype(), x.rows(), cond.as<float>(),
                                         offsets.as<int32_t>(), y.data(), y.dtype(), N, C,
                                         stream_))
    return;
  // Rows too wide for the registers: the two ops, through a scratch tensor.
  Tensor normalized = empty(x.shape(), x.dtype());
  layer_norm_cond(x, cond, normalized, false);
  segment_sum(normalized, offsets, y);
}

bool CudaBackend::fused_edge_mlp(const EdgeMlpOperands& op_args, Tensor& y) {
  activate();
  const char* op = "fused_edge_mlp";
  const EdgeMlpOperands& a = op_args;
  const int64_t C = a.x.cols(), E = a.x.rows(), S = y.rows();
  // The kernel is bf16-only: other precisions compose the ops (no error).
  for (const Tensor* t : {&a.x, &a.w0, &a.w1, &a.sender_proj, &a.receiver_proj})
    if (t->dtype() != DType::bf16) return false;
  if (!edge_mlp_supported(C)) return false;
  for (const Tensor* t : {&a.x, &a.w0, &a.b0, &a.sender_proj, &a.senders, &a.receiver_proj,
                          &a.receivers, &a.w1, &a.b1, &a.cond, &a.offsets, &a.tiles})
    check_owned(*t, op);
  check_owned(y, op);
  require_float(y, op, "y");
  for (const Tensor* t : {&a.w0, &a.w1})
    require(t->shape().size() == 2 && t->shape()[0] == C && t->shape()[1] == C, op,
            "weights must be [C, C]");
  for (const Tensor* t : {&a.b0, &a.b1})
    require(t->dtype() == DType::f32 && t->numel() == C, op, "biases must have C f32 elements");
  require(a.cond.dtype() == DType::f32 && a.cond.numel() == 2 * C, op,
          "cond must have 2*C f32 elements");
  require(a.sender_proj.cols() == C && a.receiver_proj.cols() == C && y.cols() == C, op,
          "column mismatch");
  for (const Tensor* t : {&a.senders, &a.receivers, &a.offsets, &a.tiles})
    require(t->dtype() == DType::i32, op, "indices, offsets and tiles must be i32");
  require(a.senders.numel() == E && a.receivers.numel() == E, op, "one index per edge row");
  require(a.offsets.numel() == S + 1, op, "offsets must have rows(y)+1 entries");
  require(a.tiles.numel() >= 1, op, "tiles must hold at least the boundary 0");
  for (const Tensor* t : {&a.x, &a.sender_proj, &a.receiver_proj})
    require(!overlap(*t, y), op, "y must not overlap the inputs");
  EdgeMlpDeviceArgs d;
  d.x = a.x.data();
  d.rows_x = E;
  d.w0 = a.w0.data();
  d.b0 = a.b0.as<float>();
  d.sender_proj = a.sender_proj.data();
  d.rows_s = a.sender_proj.rows();
  d.senders = a.senders.as<int32_t>();
  d.receiver_proj = a.receiver_proj.data();
  d.rows_r = a.receiver_proj.rows();
  d.receivers = a.receivers.as<int32_t>();
  d.w1 = a.w1.data();
  d.b1 = a.b1.as<float>();
  d.cond = a.cond.as<float>();
  d.offsets = a.offsets.as<int32_t>();
  d.tiles = a.tiles.as<int32_t>();
  d.n_tiles = a.tiles.numel() - 1;
  d.y = y.data();
  d.ty = y.dtype();
  d.segments = S;
  d.cols = C;
  return edge_mlp_launch(d, stream_);
}

std::unique_ptr<AttentionPlan> CudaBackend::plan_attention(const Csr& neighbours, int heads,
                                                           int head_dim, AttentionTiles tiles) {
  activate();
  require(heads >= 1 && heads <= 65535, "plan_attention", "heads must be in [1, 65535]");
  require(head_dim >= 1 && head_dim <= kAttentionMaxHeadDim, "plan_attention",
          "head_dim must be in [1, " + std::to_string(kAttentionMaxHeadDim) + "]");
  // Tiles without neighbours add nothing: the kernels never see them.
  const AttentionTileLayout layout = without_empty_tiles(build_attention_tiles(neighbours, tiles));
  const auto upload_words = [&](const void* data, size_t bytes) {
    Tensor t = empty({static_cast<int64_t>(std::max<size_t>(bytes / 4, 1))}, DType::i32);
    CUDA_CHECK(cudaMemcpyAsync(t.data(), data, bytes, cudaMemcpyHostToDevice, stream_));
    return t;
  };
  Tensor slots = upload_words(layout.slots.data(), layout.slots.size() * 4);
  Tensor key_slots = upload_words(layout.key_slots.data(), layout.key_slots.size() * 4);
  Tensor offsets = upload_words(layout.tile_offsets.data(), layout.tile_offsets.size() * 4);
  Tensor key_blocks = upload_words(layout.tile_key_block.data(), layout.tile_key_block.size() * 4);
  Tensor mask_index = upload_words(layout.tile_mask.data(), layout.tile_mask.size() * 4);
  Tensor masks = upload_words(layout.masks.data(), layout.masks.size() * 8);
  Tensor bad_words = empty({std::max<int64_t>(layout.k_blocks * heads * 2, 1)}, DType::i32);
  Tensor bad_nodes = empty({std::max<int64_t>((layout.nodes * heads + 3) / 4, 1)}, DType::i32);
  // The layout's host vectors die on return: wait for the copies.
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  AttentionDeviceTiles dev;
  dev.slots = slots.as<int32_t>();
  dev.key_slots = key_slots.as<int32_t>();
  dev.tile_offsets = offsets.as<int32_t>();
  dev.tile_key_block = key_blocks.as<int32_t>();
  dev.tile_mask = mask_index.as<int32_t>();
  dev.masks = static_cast<const uint64_t*>(masks.data());
  dev.bad_words = static_cast<uint64_t*>(bad_words.data());
  dev.bad_nodes = static_cast<uint8_t*>(bad_nodes.data());
  dev.nodes = layout.nodes;
  dev.q_blocks = layout.q_blocks;
  dev.k_blocks = layout.k_blocks;
  dev.heads = heads;
  dev.head_dim = head_dim;
  return std::make_unique<CudaAttentionPlan>(dev, tiles, layout.tiles(), layout.mask_count(),
                                             std::move(slots), std::move(key_slots),
                                             std::move(offsets),
                                             std::move(key_blocks), std::move(mask_index),
                                             std::move(masks), std::move(bad_words),
                                             std::move(bad_nodes));
}

void CudaBackend::attention(const AttentionPlan& plan_base, const Tensor& qkv, Tensor& out) {
  activate();
  const char* op = "attention";
  const auto* plan = dynamic_cast<const CudaAttentionPlan*>(&plan_base);
  require(plan != nullptr, op, "plan was made by another backend");
  check_owned(qkv, op);
  check_owned(out, op);
  require_float(qkv, op, "qkv");
  require_float(out, op, "out");
  const int64_t N = plan->nodes(), HD = int64_t{plan->heads()} * plan->head_dim();
  require(qkv.rows() == N && qkv.cols() == 3 * HD, op, "qkv must be [N, 3*H*D]");
  require(out.rows() == N && out.cols() == HD, op, "out must be [N, H*D]");
  require(!overlap(qkv, out), op, "out must not overlap qkv");
  const AttentionDeviceTiles& tiles = plan->device_tiles();
  const AttentionMath math = attention_math_for(precision_);
  if (math == AttentionMath::tf32_mma &&
      attention_tf32_as_f16_eligible(tiles, qkv.data(), qkv.dtype(), out.data(), out.dtype())) {
    // Scratch from the block cache: the f16 copy of qkv and the range flag.
    Tensor half = empty(qkv.shape(), DType::f16), flag = empty({1}, DType::i32);
    if (attention_tf32_as_f16_launch(tiles, qkv.data(), qkv.dtype(), out.data(), out.dtype(),
                                     half.data(), flag.as<int32_t>(), stream_))
      return;
  }
  attention_launch(tiles, qkv.data(), qkv.dtype(), out.data(), out.dtype(), math, stream_);
}

void CudaBackend::axpby(float a, const Tensor& x, float b, const Tensor& y, Tensor& out) {
  activate();
  const char* op = "axpby";
  check_owned(x, op);
  check_owned(y, op);
  check_owned(out, op);
  require_float(x, op, "x");
  require_float(y, op, "y");
  require_float(out, op, "out");
  require(x.numel() == out.numel() && y.numel() == out.numel(), op, "size mismatch");
  axpby_launch(a, x.data(), x.dtype(), b, y.data(), y.dtype(), out.data(), out.dtype(),
               out.numel(), stream_);
}

void CudaBackend::copy(const Tensor& src, Tensor& dst) {
  activate();
  check_owned(src, "copy");
  check_owned(dst, "copy");
  require(src.numel() == dst.numel(), "copy", "size mismatch");
  if (src.numel() == 0) return;
  if (src.dtype() == dst.dtype()) {
    CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), src.bytes(), cudaMemcpyDeviceToDevice,
                               stream_));
    return;
  }
  if (src.dtype() == DType::f16 || dst.dtype() == DType::f16) {  // f32 <-> f16 only: checked there
    convert_half_launch(src.data(), src.dtype(), dst.data(), dst.dtype(), src.numel(), stream_);
    return;
  }
  require(is_float_type(src.dtype()) && is_float_type(dst.dtype()), "copy",
          "only f32 <-> bf16 and f32 <-> f16 conversions are supported");
  convert_launch(src.data(), src.dtype(), dst.data(), dst.dtype(), src.numel(), stream_);
}

void CudaBackend::copy_columns(const Tensor& src, float scale, Tensor& dst, int64_t col0) {
  activate();
  const char* op = "copy_columns";
  check_owned(src, op);
  check_owned(dst, op);
  require_float(src, op, "src");
  require_float(dst, op, "dst");
  const int64_t R = src.rows(), C = src.cols(), D = dst.cols();
  require(dst.rows() == R, op,
          "src has " + std::to_string(R) + " rows, dst " + std::to_string(dst.rows()));
  require(col0 >= 0 && col0 + C <= D, op,
          "columns [" + std::to_string(col0) + ", " + std::to_string(col0 + C) +
              ") outside dst's " + std::to_string(D));
  require(!overlap(src, dst), op, "src and dst must not overlap");
  copy_columns_launch(src.data(), src.dtype(), scale, dst.data(), dst.dtype(), R, C, D, col0,
                      stream_);
}

void CudaBackend::fill(Tensor& t, float value) {
  activate();
  check_owned(t, "fill");
  require_float(t, "fill", "t");
  fill_launch(t.data(), t.dtype(), value, t.numel(), stream_);
}

std::unique_ptr<NoisePlan> CudaBackend::plan_noise(int64_t n_lat, int64_t n_lon) {
  activate();
  return std::make_unique<CudaNoisePlan>(*this, n_lat, n_lon);
}

void CudaBackend::sphere_noise(const NoisePlan& plan_base, std::span<const NoiseKey> keys,
                               Tensor& out) {
  activate();
  const auto* plan = dynamic_cast<const CudaNoisePlan*>(&plan_base);
  require(plan != nullptr && plan->owner() == this, "sphere_noise",
          "plan was made by another backend");
  check_owned(out, "sphere_noise");
  plan->sample(keys, out, stream_);
}

std::unique_ptr<StepTransitionPlan> CudaBackend::plan_step_transition(
    const StepTransitionTables& tables) {
  activate();
  return std::make_unique<CudaStepTransitionPlan>(*this, tables);
}

namespace {

const CudaStepTransitionPlan& own_step_plan(const StepTransitionPlan& plan, const Backend* self,
                                            const char* op) {
  const auto* p = dynamic_cast<const CudaStepTransitionPlan*>(&plan);
  require(p != nullptr && p->owner() == self, op, "plan was made by another backend");
  return *p;
}

}  // namespace

void CudaBackend::step_to_physical(const StepTransitionPlan& plan, const Tensor& normalized,
                                   const Tensor& bases, const Tensor& land, Tensor& physical) {
  activate();
  const char* op = "step_to_physical";
  for (const Tensor* t : std::initializer_list<const Tensor*>{&normalized, &bases, &land, &physical})
    check_owned(*t, op);
  own_step_plan(plan, this, op).to_physical(normalized, bases, land, physical, stream_);
}

void CudaBackend::step_advance(const StepTransitionPlan& plan, const Tensor& physical,
                               const Tensor& forcings, Tensor& bases, Tensor& land,
                               Tensor& conditioning) {
  activate();
  const char* op = "step_advance";
  for (const Tensor* t :
       std::initializer_list<const Tensor*>{&physical, &forcings, &bases, &land, &conditioning})
    check_owned(*t, op);
  own_step_plan(plan, this, op).advance(physical, forcings, bases, land, conditioning, stream_);
}

}  // namespace gencast::cuda

namespace gencast {

void cuda_set_gemm_tuning_impl(bool enabled) { cuda::set_gemm_tuning(enabled); }

int cuda_device_count_impl() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: none usable
    return 0;
  }
  return count;
}

std::string cuda_unavailable_reason_impl() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaSuccess && count > 0) return "";
  cudaGetLastError();  // clear the error so later CUDA calls are not poisoned
  std::string why;
  switch (err) {
    case cudaSuccess:
    case cudaErrorNoDevice:
      why = "the NVIDIA driver reports no GPU";
      break;
    case cudaErrorInsufficientDriver:
      why = "no NVIDIA driver is loaded, or it is older than this build's CUDA " +
            std::to_string(CUDART_VERSION / 1000) + "." +
            std::to_string(CUDART_VERSION % 1000 / 10);
      break;
    case cudaErrorStubLibrary:
      why = "no NVIDIA driver is installed (only the CUDA toolkit's stub libcuda.so was found)";
      break;
    case cudaErrorSystemDriverMismatch:
      why = "the NVIDIA kernel module and libcuda have different versions (reboot, or "
            "reinstall the driver)";
      break;
    case cudaErrorDevicesUnavailable:
      why = "every GPU is busy or in a prohibited/exclusive compute mode (see nvidia-smi)";
      break;
    default:
      why = std::string("CUDA cannot start: ") + cudaGetErrorName(err) + ", " +
            cudaGetErrorString(err);
  }
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES"))
    why += std::string(" (CUDA_VISIBLE_DEVICES is '") + visible + "')";
  return why;
}

std::unique_ptr<Backend> make_cuda_backend(int device, Precision precision) {
  const std::string found = "cuda:" + std::to_string(device);
  const std::string why = cuda_unavailable_reason_impl();
  if (!why.empty())
    fail_input("", "device", "a usable NVIDIA GPU for " + found, "none: " + why,
               "check the GPU with nvidia-smi, or run on the CPU with --device cpu");
  const int count = cuda_device_count_impl();
  if (device < 0 || device >= count)
    fail_input("", "device",
               count == 1 ? std::string("cuda:0 (this machine has one GPU)")
                          : "cuda:0 to cuda:" + std::to_string(count - 1) + " (this machine has " +
                                std::to_string(count) + " GPUs)",
               found, "list the GPUs with nvidia-smi");
  return std::make_unique<cuda::CudaBackend>(device, precision);
}

}  // namespace gencast
