// The tf32 precision's attention on Hopper's f16 warpgroup MMA: q, k and v
// converted to f16, then the wgmma kernel (sm90a/attention_wgmma.cu) with f16
// operands; the tf32 flash kernel where a value does not fit f16.
//
// Why f16 is the tf32 arithmetic here: a TF32 operand keeps 10 explicit
// significand bits, as f16 does; the two differ only in exponent range (f16:
// normal down to 2^-14, finite up to 65504). Inside that range the converted
// q, k, v are the values a TF32 product reads (both round to nearest; ties
// may go another way, within the same half ulp), and the softmax weights,
// in [0, 256] with the lazy max, are rounded to f16 instead of tf32 (weights
// below 2^-14 keep fewer bits, an absolute error under 2^-25 of a row's
// largest weight). The f16 MMA runs at twice the TF32 rate on the wgmma
// kernel, which the tf32 flash kernel cannot use (a TF32 wgmma B operand must
// be K-major, V is not): BENCHMARKS round 10.
//
// Outside f16's range (a finite |x| >= 65520 in qkv, which a trained model's
// LayerNorm-fed projections do not produce but a hostile checkpoint may) the
// converted value would be Inf: the conversion raises a device flag, and the
// f16 kernel and the tf32 flash kernel are both launched, gated on it
// (AttentionDeviceTiles::gate), so the result is the tf32 kernel's whenever
// the flag is up and no host synchronisation is needed. Non-finite inputs
// go through unchanged (NaN and Inf stay so in f16): the NaN rules are the
// flash kernels' (attention_flash_common.cuh).
#include <cuda_fp16.h>

#include <atomic>
#include <cmath>

#include "attention.cuh"
#include "cuda_check.cuh"
#include "launch_util.cuh"

namespace gencast::cuda {
namespace {

std::atomic<bool> g_route_enabled{true};

// x (f32, n4 groups of 4) -> y (f16); *out_of_range = 1 if a finite |x| >= 65520.
__global__ void to_half_checked_kernel(const float4* __restrict__ x, uint2* __restrict__ y,
                                       int64_t n4, int32_t* __restrict__ out_of_range) {
  bool over = false;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n4;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float4 v = x[i];
    const __half2 lo = __floats2half2_rn(v.x, v.y), hi = __floats2half2_rn(v.z, v.w);
    y[i] = make_uint2(*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi));
    // fabsf(NaN) >= 65520 is false, fabsf(Inf) < Inf is false: finite only.
    for (const float c : {v.x, v.y, v.z, v.w})
      over = over || (fabsf(c) >= 65520.f && fabsf(c) < INFINITY);
  }
  if (over) *out_of_range = 1;  // any writer writes 1
}

}  // namespace

void set_attention_tf32_as_f16(bool enabled) { g_route_enabled.store(enabled); }

bool attention_tf32_as_f16_eligible(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv,
                                    const void* out, DType t_out) {
  // Both kernels' own checks, asked without launching: the f16 copy comes
  // from the block cache (256-byte aligned), so no pointer stands for it.
  return g_route_enabled.load() && t_qkv == DType::f32 &&
         attention_wgmma_runs(t, nullptr, DType::f16) &&
         attention_flash_tf32_runs(t, qkv, t_qkv, out, t_out);
}

bool attention_tf32_as_f16_launch(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv,
                                  void* out, DType t_out, void* qkv_half, int32_t* flag,
                                  cudaStream_t stream) {
  if (!attention_tf32_as_f16_eligible(t, qkv, t_qkv, out, t_out) || !is_aligned(qkv_half, 16))
    return false;
  const int64_t n = t.nodes * 3 * int64_t{t.heads} * t.head_dim;  // head_dim % 8: n % 4 == 0
  CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int32_t), stream));
  to_half_checked_kernel<<<grid_for(n / 4, 256), 256, 0, stream>>>(
      static_cast<const float4*>(qkv), static_cast<uint2*>(qkv_half), n / 4, flag);
  AttentionDeviceTiles in_range = t, out_of_range = t;
  in_range.gate = out_of_range.gate = flag;
  in_range.gate_open = 0;
  out_of_range.gate_open = 1;
  if (!attention_wgmma_launch(in_range, qkv_half, DType::f16, out, t_out, stream))
    throw std::logic_error("attention: the f16 wgmma kernel refused an eligible call");
  if (!attention_flash_tf32_launch(out_of_range, qkv, t_qkv, out, t_out, stream))
    throw std::logic_error("attention: the tf32 flash kernel refused an eligible call");
  CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace gencast::cuda
