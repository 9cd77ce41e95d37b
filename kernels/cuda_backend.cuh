// The CUDA backend: device memory, transfers and every Backend op on one
// non-blocking stream of one GPU.
//
// Invariants:
//  * memory comes from plain cudaMalloc (never managed memory), through a
//    size-keyed cache: a dropped tensor's block goes back to the cache, not
//    to the driver, and is handed to a later tensor of the same rounded size.
//    That is safe without waiting, because all work is on one stream: every
//    kernel of the new owner is queued after every kernel of the old one. The
//    cache is emptied (after a stream sync) when cudaMalloc fails and when the
//    backend goes away; so freeing never stalls the stream;
//  * live and peak bytes count the tensors in use (rounded sizes) plus the
//    GEMM workspace; free_memory_bytes() counts cached blocks as free;
//  * ops are asynchronous on the backend's stream; download() and
//    synchronize() wait; no op reads device data back to the host;
//  * compute_dtype() is bf16 for Precision::bf16, else f32; tensors may be
//    f32 or bf16 wherever an op says so (see each method), i32 for indices;
//  * every public method first makes the backend's device current, so several
//    backends on several GPUs can be driven from one host thread.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"

namespace gencast::cuda {

class GemmRunner;

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, Precision precision);
  ~CudaBackend() override;

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  std::string device_name() const override { return device_name_; }
  Precision precision() const override { return precision_; }
  DType compute_dtype() const override {
    return precision_info(precision_).activations;
  }

  Tensor empty(Shape shape, DType dtype) override;
  void upload(const float* host, Tensor& dst) override;
  std::shared_ptr<float[]> pinned_host(int64_t count) override;
  void upload_i32(const int32_t* host, Tensor& dst) override;
  void download(const Tensor& src, float* host) override;
  void download_concurrent(const Tensor& src, float* host) override;
  void synchronize() override;
  size_t free_memory_bytes() const override;
  size_t peak_memory_bytes() const override { return peak_bytes_.load(); }
  size_t live_memory_bytes() const { return live_bytes_.load(); }

  void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, Activation act,
              float alpha, float beta) override;
  void layer_norm_cond(const Tensor& x, const Tensor& cond, Tensor& y, bool accumulate) override;
  void gather2_add_act(const Tensor& a, const Tensor& ia, const Tensor& b, const Tensor& ib,
                       Tensor& y, Activation act) override;
  void segment_sum(const Tensor& x, const Tensor& offsets, Tensor& y) override;
  void layer_norm_cond_segment_sum(const Tensor& x, const Tensor& cond, const Tensor& offsets,
                                   Tensor& y) override;
  bool fused_edge_mlp(const EdgeMlpOperands& op, Tensor& y) override;
  bool linear_takes_f16() const override { return true; }
  std::unique_ptr<AttentionPlan> plan_attention(const Csr& neighbours, int heads, int head_dim,
                                                AttentionTiles tiles) override;
  void attention(const AttentionPlan& plan, const Tensor& qkv, Tensor& out) override;
  void axpby(float a, const Tensor& x, float b, const Tensor& y, Tensor& out) override;
  void copy(const Tensor& src, Tensor& dst) override;
  void copy_columns(const Tensor& src, float scale, Tensor& dst, int64_t col0) override;
  void fill(Tensor& t, float value) override;
  void freeze(const Tensor& t) override;
  std::unique_ptr<NoisePlan> plan_noise(int64_t n_lat, int64_t n_lon) override;
  void sphere_noise(const NoisePlan& plan, std::span<const NoiseKey> keys, Tensor& out) override;
  std::unique_ptr<StepTransitionPlan> plan_step_transition(
      const StepTransitionTables& tables) override;
  void step_to_physical(const StepTransitionPlan& plan, const Tensor& normalized,
                        const Tensor& bases, const Tensor& land, Tensor& physical) override;
  void step_advance(const StepTransitionPlan& plan, const Tensor& physical,
                    const Tensor& forcings, Tensor& bases, Tensor& land,
                    Tensor& conditioning) override;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }

 private:
  void activate() const;  // makes device_ current for the calling thread
  void check_owned(const Tensor& t, const char* op) const;
  void* allocate(size_t bytes);    // bytes already rounded; from the cache or cudaMalloc
  void recycle(void* p, size_t bytes) noexcept;  // a tensor's deleter
  void release_cache() noexcept;   // syncs the stream, cudaFree's every cached block

  // The bf16 copy of a frozen f32 bias at `data`, or null (none made, or its
  // tensor is gone: then the entry is dropped).
  const void* frozen_half(const void* data, int64_t numel);

  // bf16 copies of frozen f32 vectors, by the frozen tensor's data pointer;
  // an entry whose storage has expired is stale (its block may hold another
  // tensor now) and is never used.
  struct FrozenHalf {
    std::weak_ptr<void> storage;
    int64_t numel = 0;
    Tensor half;
  };
  std::unordered_map<const void*, FrozenHalf> frozen_half_;

  int device_;
  Precision precision_;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  cudaStream_t copy_stream_ = nullptr;  // download_concurrent's queue
  std::unique_ptr<GemmRunner> gemm_;
  std::atomic<size_t> live_bytes_{0};
  std::atomic<size_t> peak_bytes_{0};
  mutable std::mutex cache_mutex_;  // deleters may run on any thread
  std::unordered_map<size_t, std::vector<void*>> cached_blocks_;  // by rounded size
  size_t cached_bytes_ = 0;
};

}  // namespace gencast::cuda

namespace gencast {
// Declared for the factory in lib/backend/backend_factory.cpp. Throws
// InputError when the device does not exist or no CUDA device/driver is
// present, RuntimeFailure for other CUDA errors.
std::unique_ptr<Backend> make_cuda_backend(int device, Precision precision);
// CUDA devices usable by this process (0 without a driver or device).
int cuda_device_count_impl();
}  // namespace gencast
