// The CPU float32 reference backend: plain loops, parallel_for over rows, no
// tricks. It is the reference every CUDA kernel is tested against and the
// fallback when no GPU is present -- correctness over speed.
#pragma once

#include "backend/backend.h"

namespace gencast {

class CpuBackend : public Backend {  // not final: tests observe its calls
 public:
  CpuBackend() = default;

  std::string name() const override { return "cpu"; }
  std::string device_name() const override;
  Precision precision() const override { return Precision::fp32; }
  DType compute_dtype() const override { return DType::f32; }

  Tensor empty(Shape shape, DType dtype) override;
  void upload(const float* host, Tensor& dst) override;
  void upload_i32(const int32_t* host, Tensor& dst) override;
  void download(const Tensor& src, float* host) override;
  void synchronize() override {}
  size_t free_memory_bytes() const override;
  size_t peak_memory_bytes() const override { return peak_bytes_; }

  void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, Activation act,
              float alpha, float beta) override;
  void layer_norm_cond(const Tensor& x, const Tensor& cond, Tensor& y, bool accumulate) override;
  void gather2_add_act(const Tensor& a, const Tensor& ia, const Tensor& b, const Tensor& ib,
                       Tensor& y, Activation act) override;
  void segment_sum(const Tensor& x, const Tensor& offsets, Tensor& y) override;
  void layer_norm_cond_segment_sum(const Tensor& x, const Tensor& cond, const Tensor& offsets,
                                   Tensor& y) override;
  // The CPU always visits exactly the neighbours; `tiles` only matters to tiled kernels.
  std::unique_ptr<AttentionPlan> plan_attention(const Csr& neighbours, int heads, int head_dim,
                                                AttentionTiles tiles) override;
  void attention(const AttentionPlan& plan, const Tensor& qkv, Tensor& out) override;
  void axpby(float a, const Tensor& x, float b, const Tensor& y, Tensor& out) override;
  void copy(const Tensor& src, Tensor& dst) override;
  void copy_columns(const Tensor& src, float scale, Tensor& dst, int64_t col0) override;
  void fill(Tensor& t, float value) override;
  std::unique_ptr<NoisePlan> plan_noise(int64_t n_lat, int64_t n_lon) override;
  void sphere_noise(const NoisePlan& plan, std::span<const NoiseKey> keys, Tensor& out) override;
  std::unique_ptr<StepTransitionPlan> plan_step_transition(
      const StepTransitionTables& tables) override;
  void step_to_physical(const StepTransitionPlan& plan, const Tensor& normalized,
                        const Tensor& bases, const Tensor& land, Tensor& physical) override;
  void step_advance(const StepTransitionPlan& plan, const Tensor& physical,
                    const Tensor& forcings, Tensor& bases, Tensor& land,
                    Tensor& conditioning) override;

 private:
  size_t live_bytes_ = 0;
  size_t peak_bytes_ = 0;
};

// Scalar activation functions shared by the CPU backend and tests.
float activation_value(Activation act, float x);

}  // namespace gencast
