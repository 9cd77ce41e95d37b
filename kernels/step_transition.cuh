// The 12 h step transition on the GPU (Backend::step_to_physical /
// step_advance; CPU twin in lib/backend/cpu_backend.cpp, tables from
// lib/data/step_transition_plan.h).
//
// Invariants: the float32 operations are the host path's, one by one and in
// its order, written with the _rn intrinsics so that nvcc never contracts a
// product and a sum into an FMA: the results are bitwise the CPU's. A bf16
// conditioning value is rounded to nearest even from that float32, as
// upload() does; a shifted bf16 value is moved unchanged. step_advance reads
// every source column of a row before it writes any (one warp per row).
// Memory-bound: each operand is read once and each result written once.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"

namespace gencast::cuda {

class CudaStepTransitionPlan final : public StepTransitionPlan {
 public:
  // Checks the tables and uploads them through `backend` (its stream).
  CudaStepTransitionPlan(Backend& backend, const StepTransitionTables& tables);
  const StepTransitionTables& tables() const override { return tables_; }
  const Backend* owner() const { return owner_; }

  void to_physical(const Tensor& normalized, const Tensor& bases, const Tensor& land,
                   Tensor& physical, cudaStream_t stream) const;
  void advance(const Tensor& physical, const Tensor& forcings, Tensor& bases, Tensor& land,
               Tensor& conditioning, cudaStream_t stream) const;

 private:
  const Backend* owner_;
  StepTransitionTables tables_;
  Tensor target_affine_;  // f32 [T, 2]: scale, offset
  Tensor target_flags_;   // i32 [T, 1]: StepTargetFlag bits
  Tensor column_source_;  // i32 [K, 2]: kind | fill_nan << 8, index
  Tensor column_affine_;  // f32 [K, 2]: mean, stddev
};

}  // namespace gencast::cuda
