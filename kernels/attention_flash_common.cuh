// Pieces shared by the register-resident attention kernels, bf16
// (attention_flash.cu) and tf32 (attention_flash_tf32.cu): the block shape,
// the lazy-max slack, the paired output store and the pre-pass that marks
// the keys whose value row is non-finite as the tensor cores would see it.
//
// Why the pre-pass: the P V product multiplies every staged V row by its
// weight, masked ones by exactly 0, and 0 * NaN = NaN on a tensor core. So
// the kernels zero the V rows flagged here (a non-neighbour's NaN must not
// leak) and turn the output of a row that attends to a flagged key into NaN
// (as on the CPU).
//
// Invariants: bad_words has q_blocks * heads words; bit r of word
// kb * heads + h <=> the node in slot kb*64 + r exists and a value of its
// head h in V is non-finite after rounding to the kernel's operand type
// (bf16 input: itself; float input: rounded to tf32, so a finite float that
// rounds to Inf counts). Block (64, 1, 1), grid (q_blocks, heads).
#pragma once

#include <cuda_bf16.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "attention.cuh"
#include "attention_tiles.h"
#include "device_math.cuh"
#include "mma_ptx.cuh"

namespace gencast::cuda::flash {

inline constexpr int kRows = kAttentionBlock;  // query rows per block = keys per tile
inline constexpr int kWarps = 4;               // warp w owns query rows 16w..16w+15
inline constexpr int kThreads = 32 * kWarps;
inline constexpr unsigned kFullMask = 0xffffffffu;
// Lazy running max, log2 units (see attention_mma.cu): the max moves only
// when a tile's max exceeds it by more than this, so O is rarely rescaled.
inline constexpr float kMaxSlack = 8.f;

static_assert(kRows == 16 * kWarps, "each warp owns 16 query rows");

// Two adjacent output values (dst 4-byte aligned for bf16, 8 for float).
template <class TO>
__device__ __forceinline__ void store_pair(TO* dst, float a, float b);
template <>
__device__ __forceinline__ void store_pair<bf16>(bf16* dst, float a, float b) {
  *reinterpret_cast<__nv_bfloat162*>(dst) = __floats2bfloat162_rn(a, b);
}
template <>
__device__ __forceinline__ void store_pair<float>(float* dst, float a, float b) {
  *reinterpret_cast<float2*>(dst) = make_float2(a, b);
}

// Whether a stored value is non-finite as an MMA operand: a bf16 is when its
// 8 exponent bits are all ones; a float goes in as its tf32 rounding.
__device__ __forceinline__ bool operand_non_finite(bf16 v) {
  return (__bfloat16_as_ushort(v) & 0x7f80u) == 0x7f80u;
}
__device__ __forceinline__ bool operand_non_finite(float v) {
  return !isfinite(ptx::round_tf32(v));
}

// One thread per slot r of key block blockIdx.x, head blockIdx.y.
template <class T>
__global__ void bad_value_words_kernel(const T* __restrict__ qkv,
                                       const int32_t* __restrict__ slots,
                                       uint64_t* __restrict__ bad_words, int heads, int head_dim) {
  const int kb = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
  const int r = static_cast<int>(threadIdx.x);
  const int64_t hd = int64_t{heads} * head_dim;
  const int64_t node = slots[int64_t{kb} * kRows + r];
  bool bad = false;
  if (node >= 0) {
    const T* row = qkv + node * 3 * hd + 2 * hd + int64_t{h} * head_dim;
    for (int d = 0; d < head_dim; ++d) bad = bad || operand_non_finite(row[d]);
  }
  const unsigned word = __ballot_sync(kFullMask, bad);
  if (r % 32 == 0)
    reinterpret_cast<uint32_t*>(bad_words + int64_t{kb} * heads + h)[r / 32] = word;
}

template <class T>
void launch_bad_value_words(const AttentionDeviceTiles& t, const T* qkv, cudaStream_t stream) {
  bad_value_words_kernel<T>
      <<<dim3(static_cast<unsigned>(t.q_blocks), static_cast<unsigned>(t.heads)), kRows, 0,
         stream>>>(qkv, t.slots, t.bad_words, t.heads, t.head_dim);
}

// Scores in log2 units: exp(x / sqrt(D)) = exp2(x * log2(e) / sqrt(D)).
inline float score_scale_log2(int head_dim) {
  return static_cast<float>(1.4426950408889634 / std::sqrt(static_cast<double>(head_dim)));
}

}  // namespace gencast::cuda::flash
