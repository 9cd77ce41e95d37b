// Step-transition kernels (see step_transition.cuh).
#include "step_transition.cuh"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/step_transition_checks.h"
#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"

namespace gencast::cuda {
namespace {

constexpr int kBlock = 256;
constexpr int kWarps = kBlock / 32;
// Conditioning columns a warp stages in shared memory (GenCast has 180).
constexpr int64_t kMaxColumns = 1024;

// physical = x * scale + (residual ? base : offset); NaN on land where flagged.
__global__ void to_physical_kernel(const float* __restrict__ x, const float* __restrict__ bases,
                                   const float* __restrict__ land,
                                   const float* __restrict__ affine, const int* __restrict__ flags,
                                   float* __restrict__ out, int64_t rows, int64_t T) {
  const int64_t total = rows * T;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / T, c = i - r * T;
    const int f = flags[c];
    const float scaled = __fmul_rn(x[i], affine[2 * c]);
    float v = (f & kStepResidual) ? __fadd_rn(scaled, bases[i]) : __fadd_rn(scaled, affine[2 * c + 1]);
    if ((f & kStepRestoreNan) && land != nullptr && land[r] != 0.f) v = __int_as_float(0x7fc00000);  // the host's quiet NaN, bit for bit
    out[i] = v;
  }
}

struct AdvanceArgs {
  const float* physical;
  const float* forcings;
  float* bases;
  float* land;
  const int* target_flags;
  const int* column_source;
  const float* column_affine;
  int64_t rows, T, K, W, n_lon;
  float fill;
  int land_target;
  unsigned newest_bit;
};

// One warp per row: residual bases and the land bits, then the conditioning
// columns, every source read into shared memory before any column is written.
template <class TC>
__global__ void advance_kernel(AdvanceArgs a, TC* __restrict__ cond) {
  extern __shared__ float staged[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float* row_values = staged + warp * a.K;
  const int64_t warps = int64_t{gridDim.x} * kWarps;
  for (int64_t r = blockIdx.x * int64_t{kWarps} + warp; r < a.rows; r += warps) {
    const float* p = a.physical + r * a.T;
    for (int64_t c = lane; c < a.T; c += 32) {
      const int f = a.target_flags[c];
      float v = 0.f;
      if (f & kStepResidual) v = (f & kStepFillBase) && isnan(p[c]) ? a.fill : p[c];
      a.bases[r * a.T + c] = v;
    }
    if (lane == 0 && a.land_target >= 0) {
      const auto bits = static_cast<unsigned>(a.land[r]);
      a.land[r] = static_cast<float>((bits >> 1) | (isnan(p[a.land_target]) ? a.newest_bit : 0u));
    }
    TC* row = cond + r * a.W;
    const int64_t lon = r % a.n_lon;
    for (int64_t c = lane; c < a.K; c += 32) {
      const int kind = a.column_source[2 * c] & 0xff;
      const int index = a.column_source[2 * c + 1];
      float v = 0.f;
      if (kind == kColumnShift) {
        v = to_f32(row[index]);
      } else if (kind == kColumnNewest) {
        float x = p[index];
        if ((a.column_source[2 * c] >> 8) && isnan(x)) x = a.fill;
        v = __fdiv_rn(__fsub_rn(x, a.column_affine[2 * c]), a.column_affine[2 * c + 1]);
      } else if (kind == kColumnForcing) {
        v = a.forcings[index * a.n_lon + lon];
      }
      row_values[c] = v;
    }
    __syncwarp();
    for (int64_t c = lane; c < a.K; c += 32)
      if ((a.column_source[2 * c] & 0xff) != kColumnKeep) row[c] = from_f32<TC>(row_values[c]);
    __syncwarp();  // the staging row is reused by the warp's next row
  }
}

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string("cuda backend ") + op + ": " + what);
}

}  // namespace

CudaStepTransitionPlan::CudaStepTransitionPlan(Backend& backend, const StepTransitionTables& t)
    : owner_(&backend), tables_(t) {
  check_step_tables(t, "cuda");
  require(t.n_conditioning() <= kMaxColumns, "plan_step_transition",
          "at most " + std::to_string(kMaxColumns) + " conditioning columns");
  const int64_t T = t.n_targets(), K = t.n_conditioning();
  std::vector<float> affine(static_cast<size_t>(2 * T));
  std::vector<int32_t> flags(static_cast<size_t>(T));
  for (int64_t c = 0; c < T; ++c) {
    affine[static_cast<size_t>(2 * c)] = t.scale[static_cast<size_t>(c)];
    affine[static_cast<size_t>(2 * c + 1)] = t.offset[static_cast<size_t>(c)];
    flags[static_cast<size_t>(c)] = t.target_flags[static_cast<size_t>(c)];
  }
  std::vector<float> col_affine(static_cast<size_t>(2 * K));
  std::vector<int32_t> source(static_cast<size_t>(2 * K));
  for (int64_t c = 0; c < K; ++c) {
    const auto k = static_cast<size_t>(c);
    col_affine[2 * k] = t.mean[k];
    col_affine[2 * k + 1] = t.stddev[k];
    source[2 * k] = t.column_kind[k] | (t.column_fill_nan[k] ? 1 << 8 : 0);
    source[2 * k + 1] = t.column_index[k];
  }
  target_affine_ = backend.empty({std::max<int64_t>(T, 1), 2}, DType::f32);
  target_flags_ = backend.empty({std::max<int64_t>(T, 1), 1}, DType::i32);
  column_affine_ = backend.empty({std::max<int64_t>(K, 1), 2}, DType::f32);
  column_source_ = backend.empty({std::max<int64_t>(K, 1), 2}, DType::i32);
  affine.resize(static_cast<size_t>(target_affine_.numel()));
  flags.resize(static_cast<size_t>(target_flags_.numel()));
  col_affine.resize(static_cast<size_t>(column_affine_.numel()));
  source.resize(static_cast<size_t>(column_source_.numel()));
  backend.upload(affine.data(), target_affine_);
  backend.upload_i32(flags.data(), target_flags_);
  backend.upload(col_affine.data(), column_affine_);
  backend.upload_i32(source.data(), column_source_);
  backend.synchronize();  // the host vectors go away
}

void CudaStepTransitionPlan::to_physical(const Tensor& normalized, const Tensor& bases,
                                         const Tensor& land, Tensor& physical,
                                         cudaStream_t stream) const {
  const char* op = "step_to_physical";
  check_step_to_physical(tables_, normalized, bases, land, physical, "cuda");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&normalized, &bases, &physical})
    require(t->dtype() == DType::f32, op, "expected f32 tensors");
  const int64_t R = normalized.rows(), T = tables_.n_targets();
  if (R * T == 0) return;
  const float* mask = tables_.land_target >= 0 ? land.as<float>() : nullptr;
  to_physical_kernel<<<grid_for(R * T, kBlock), kBlock, 0, stream>>>(
      normalized.as<float>(), bases.as<float>(), mask, target_affine_.as<float>(),
      target_flags_.as<int>(), physical.as<float>(), R, T);
  CUDA_CHECK(cudaGetLastError());
}

void CudaStepTransitionPlan::advance(const Tensor& physical, const Tensor& forcings,
                                     Tensor& bases, Tensor& land, Tensor& conditioning,
                                     cudaStream_t stream) const {
  const char* op = "step_advance";
  check_step_advance(tables_, physical, forcings, bases, land, conditioning, "cuda");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&physical, &bases})
    require(t->dtype() == DType::f32, op, "expected f32 physical and bases");
  require(tables_.forcing_rows == 0 || forcings.dtype() == DType::f32, op, "expected f32 forcings");
  require(tables_.land_target < 0 || land.dtype() == DType::f32, op, "expected an f32 land mask");
  const int64_t R = physical.rows();
  if (R == 0) return;
  AdvanceArgs a{};
  a.physical = physical.as<float>();
  a.forcings = tables_.forcing_rows > 0 ? forcings.as<float>() : nullptr;
  a.bases = bases.as<float>();
  a.land = tables_.land_target >= 0 ? land.as<float>() : nullptr;
  a.target_flags = target_flags_.as<int>();
  a.column_source = column_source_.as<int>();
  a.column_affine = column_affine_.as<float>();
  a.rows = R;
  a.T = tables_.n_targets();
  a.K = tables_.n_conditioning();
  a.W = conditioning.cols();
  a.n_lon = tables_.n_lon;
  a.fill = tables_.fill;
  a.land_target = tables_.land_target;
  a.newest_bit = 1u << (tables_.frames - 1);
  const size_t shared = static_cast<size_t>(kWarps * std::max<int64_t>(a.K, 1)) * sizeof(float);
  const unsigned blocks = grid_for(R, kWarps);
  dispatch_float_type(conditioning.dtype(), op, [&](auto t) {
    using TC = decltype(t);
    advance_kernel<TC><<<blocks, kBlock, shared, stream>>>(a, conditioning.as<TC>());
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace gencast::cuda
