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
// Invariants: bad_words has k_blocks * heads words; bit r of word
// kb * heads + h <=> the node in key slot kb*64 + r exists and a value of its
// head h in V is non-finite after rounding to the kernel's operand type
// (bf16 input: itself; float input: rounded to tf32, so a finite float that
// rounds to Inf counts). Block (64, 1, 1), grid (k_blocks, heads).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "attention.cuh"
#include "attention_tiles.h"
#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"
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
__device__ __forceinline__ bool operand_non_finite(__half v) {
  return (__half_as_ushort(v) & 0x7c00u) == 0x7c00u;
}
// A 16-bit operand from its bits.
template <class T>
__device__ __forceinline__ T operand_from_bits(uint32_t bits) {
  if constexpr (std::is_same_v<T, __half>)
    return __ushort_as_half(static_cast<unsigned short>(bits));
  else
    return __ushort_as_bfloat16(static_cast<unsigned short>(bits));
}

// Whether a kernel launched with the tiles' gate runs (see AttentionDeviceTiles).
__device__ __forceinline__ bool gate_closed(const int32_t* gate, int32_t open) {
  return gate != nullptr && *gate != open;
}

// Pass 1, once per node: bad_nodes[n * heads + h] = 1 where a value of head
// h of node n's V is non-finite as an operand, else 0 (every flag is
// written). One thread per (node, head), reading its head's values in
// 16-byte groups where head_dim and qkv allow (VEC > 1), else one by one.
template <int VEC, class T>
__global__ void bad_value_nodes_kernel(const T* __restrict__ qkv, uint8_t* __restrict__ bad_nodes,
                                       int64_t nodes, int heads, int head_dim,
                                       const int32_t* __restrict__ gate, int32_t gate_open) {
  if (gate_closed(gate, gate_open)) return;
  const int64_t hd = int64_t{heads} * head_dim;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < nodes * heads;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t n = i / heads;
    const int h = static_cast<int>(i - n * heads);
    const T* v = qkv + n * 3 * hd + 2 * hd + int64_t{h} * head_dim;
    bool bad = false;
    if constexpr (VEC > 1) {
      for (int c = 0; c < head_dim; c += VEC) {
        const uint4 raw = *reinterpret_cast<const uint4*>(v + c);
        const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          if constexpr (sizeof(T) == 2)  // two bf16 or f16
            bad = bad || operand_non_finite(operand_from_bits<T>(w[q] & 0xffffu)) ||
                  operand_non_finite(operand_from_bits<T>(w[q] >> 16));
          else
            bad = bad || operand_non_finite(__uint_as_float(w[q]));
        }
      }
    } else {
      for (int c = 0; c < head_dim; ++c) bad = bad || operand_non_finite(v[c]);
    }
    bad_nodes[i] = bad ? 1 : 0;
  }
}

// Pass 2: one thread per key slot r of key group blockIdx.x *
// kWordGroupsPerBlock + threadIdx.x / kRows, head blockIdx.y.
constexpr int kWordGroupsPerBlock = 4;
__global__ void bad_value_words_kernel(const int32_t* __restrict__ key_slots,
                                       const uint8_t* __restrict__ bad_nodes,
                                       uint64_t* __restrict__ bad_words, int64_t k_blocks,
                                       int heads, const int32_t* __restrict__ gate,
                                       int32_t gate_open);

template <class T>
void launch_bad_value_words(const AttentionDeviceTiles& t, const T* qkv, cudaStream_t stream) {
  const int64_t pairs = t.nodes * t.heads;
  const auto blocks = static_cast<unsigned>(std::clamp<int64_t>((pairs + 255) / 256, 1, 1 << 20));
  constexpr int kVec = kVec16<T>;
  if (t.head_dim % kVec == 0 && is_aligned(qkv, 16))
    bad_value_nodes_kernel<kVec, T><<<blocks, 256, 0, stream>>>(qkv, t.bad_nodes, t.nodes, t.heads,
                                                                t.head_dim, t.gate, t.gate_open);
  else
    bad_value_nodes_kernel<1, T><<<blocks, 256, 0, stream>>>(qkv, t.bad_nodes, t.nodes, t.heads,
                                                             t.head_dim, t.gate, t.gate_open);
  const auto word_blocks = static_cast<unsigned>(
      (t.k_blocks + kWordGroupsPerBlock - 1) / kWordGroupsPerBlock);
  bad_value_words_kernel<<<dim3(word_blocks, static_cast<unsigned>(t.heads)),
                           kWordGroupsPerBlock * kRows, 0, stream>>>(
      t.key_slots, t.bad_nodes, t.bad_words, t.k_blocks, t.heads, t.gate, t.gate_open);
}

// Scores in log2 units: exp(x / sqrt(D)) = exp2(x * log2(e) / sqrt(D)).
inline float score_scale_log2(int head_dim) {
  return static_cast<float>(1.4426950408889634 / std::sqrt(static_cast<double>(head_dim)));
}

// The first half of the online softmax in both kernels, for one tile: the
// thread's scores s[j] (rows row_lo: s[j][0..1] under bits_lo, row_lo + 8:
// s[j][2..3] under bits_hi; key 8j + 2tq + e) are masked exactly (masked ->
// -inf, never read) and scaled to log2 units, the rows' maxima are reduced
// over the quad, and the lazy running maxima move when a tile's max exceeds
// them by more than kMaxSlack, rescaling O; corr_* say by how much (the row
// sums are rescaled by the caller). A row's first neighbours set its max
// without rescaling: its O and l are still exactly 0. kScale = false leaves
// the unmasked scores unscaled (the maxima are scaled instead: scaling by a
// positive number commutes with max and rounding is monotonic, so m is the
// same), for a caller that folds the scale into its exponent's FMA,
// exp2(s * scale - m) in one rounding.
template <bool kScale = true, int kGroups, int kOTiles, class Bits>
__device__ __forceinline__ void mask_scores_and_move_max(float (&s)[kGroups][4], Bits bits_lo,
                                                         Bits bits_hi, float scale_log2, int tq,
                                                         float& m_lo, float& m_hi,
                                                         float (&o)[kOTiles][4], float& corr_lo,
                                                         float& corr_hi) {
  // Two running maxima per row (columns e = 0 and 1): chains of kGroups
  // instead of 2 kGroups dependent instructions; fmaxf is exact, so the
  // order does not matter.
  float tmax_lo = -INFINITY, tmax_hi = -INFINITY, tmax_lo1 = -INFINITY, tmax_hi1 = -INFINITY;
  // The thread's columns are 8j + 2tq + e: one variable shift per row here,
  // then constant bit positions (single-instruction tests) in the loop.
  const Bits mine_lo = bits_lo >> (2 * tq), mine_hi = bits_hi >> (2 * tq);
#pragma unroll
  for (int j = 0; j < kGroups; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int c = 8 * j + e;
      s[j][e] = (mine_lo >> c) & 1u ? (kScale ? s[j][e] * scale_log2 : s[j][e]) : -INFINITY;
      s[j][2 + e] = (mine_hi >> c) & 1u ? (kScale ? s[j][2 + e] * scale_log2 : s[j][2 + e])
                                        : -INFINITY;
    }
#pragma unroll
  for (int j = 0; j < kGroups; ++j) {  // fmaxf skips NaN: a NaN score gives a NaN weight
    tmax_lo = fmaxf(tmax_lo, s[j][0]);
    tmax_lo1 = fmaxf(tmax_lo1, s[j][1]);
    tmax_hi = fmaxf(tmax_hi, s[j][2]);
    tmax_hi1 = fmaxf(tmax_hi1, s[j][3]);
  }
  tmax_lo = fmaxf(tmax_lo, tmax_lo1);
  tmax_hi = fmaxf(tmax_hi, tmax_hi1);
#pragma unroll
  for (int x = 1; x <= 2; x *= 2) {  // the 4 lanes of a quad share the rows
    tmax_lo = fmaxf(tmax_lo, __shfl_xor_sync(kFullMask, tmax_lo, x));
    tmax_hi = fmaxf(tmax_hi, __shfl_xor_sync(kFullMask, tmax_hi, x));
  }
  if constexpr (!kScale) {
    tmax_lo *= scale_log2;
    tmax_hi *= scale_log2;
  }
  const auto move_max = [](Bits row_bits, float tmax, float& m) {
    float corr = 1.f;
    if (row_bits != 0) {
      if (m == -INFINITY) {
        m = tmax;
      } else if (tmax > m + kMaxSlack) {
        corr = exp2f(m - tmax);
        m = tmax;
      }
    }
    return corr;
  };
  corr_lo = move_max(bits_lo, tmax_lo, m_lo);
  corr_hi = move_max(bits_hi, tmax_hi, m_hi);
  if (corr_lo != 1.f || corr_hi != 1.f) {
#pragma unroll
    for (int j = 0; j < kOTiles; ++j) {
      o[j][0] *= corr_lo;
      o[j][1] *= corr_lo;
      o[j][2] *= corr_hi;
      o[j][3] *= corr_hi;
    }
  }
}

// A tile's key block and mask index, and what a thread reads with them: the
// mask words of its two query rows and the tile's bad-value word. The
// kernels load a tile's index one tile before the loads that need it, so
// that no global load waits on another at the top of their loops. Tiles are
// those with neighbours (the plan drops empty ones, attention_tiles.h); a
// tile with the empty mask 0 would still be exact. Past the last tile both
// read as zeros.
struct TileIndex {
  int key_block = 0, mask = 0;
};
struct TileBits {
  uint64_t lo = 0, hi = 0, bad = 0;  // mask words of rows row_lo, row_lo + 8; bad V keys
};
struct TileReader {
  const int32_t* key_blocks;
  const int32_t* mask_index;
  const uint64_t* masks;
  const uint64_t* bad_words;
  int t_end, heads, h, row_lo;

  __device__ __forceinline__ TileIndex index(int t) const {
    TileIndex i;
    if (t < t_end) {
      i.key_block = key_blocks[t];
      i.mask = mask_index[t];
    }
    return i;
  }
  __device__ __forceinline__ TileBits bits(int t, TileIndex i) const {
    TileBits b;
    if (t < t_end) {
      const int64_t m = int64_t{i.mask} * kRows;
      b.lo = masks[m + row_lo];
      b.hi = masks[m + row_lo + 8];
      b.bad = bad_words[int64_t{i.key_block} * heads + h];
    }
    return b;
  }
};

// The max a row's weights are taken against, exp2(s - origin): its running
// max, or 0 while the row has no neighbour yet (max -inf). After
// mask_scores_and_move_max a masked score is -inf, so its weight is exactly
// 0 with no second mask test, and -inf - origin never becomes NaN.
__device__ __forceinline__ float weight_origin(float m) { return m == -INFINITY ? 0.f : m; }

// The end of both kernels: each thread holds rows row_lo and row_lo + 8 of
// its warp's output in C fragments o[j] (columns 8j + 2tq, +1) and its
// quad's share of their weight sums. Sums the quad, divides, and stores
// through the slot table (padding slots skipped). No neighbours: l = 0 and
// O = 0 -> zeros, like the CPU; NaN l or a flagged non-finite value -> NaN.
// head_dim is even, so a pair starting below head_dim ends below it too.
template <int kOTiles, class TO>
__device__ __forceinline__ void store_output_rows(const float (&o)[kOTiles][4], float l_lo,
                                                  float l_hi, bool nan_lo, bool nan_hi,
                                                  const int32_t* qslots, int row_lo, TO* out,
                                                  int64_t hd, int h, int head_dim, int tq) {
#pragma unroll
  for (int x = 1; x <= 2; x *= 2) {
    l_lo += __shfl_xor_sync(kFullMask, l_lo, x);
    l_hi += __shfl_xor_sync(kFullMask, l_hi, x);
  }
  const float inv_lo = nan_lo ? NAN : (l_lo == 0.f ? 0.f : 1.f / l_lo);
  const float inv_hi = nan_hi ? NAN : (l_hi == 0.f ? 0.f : 1.f / l_hi);
  const int64_t node_lo = qslots[row_lo], node_hi = qslots[row_lo + 8];
  TO* const out_lo = out + node_lo * hd + int64_t{h} * head_dim;
  TO* const out_hi = out + node_hi * hd + int64_t{h} * head_dim;
#pragma unroll
  for (int j = 0; j < kOTiles; ++j) {
    const int c = 8 * j + 2 * tq;
    if (c >= head_dim) continue;
    if (node_lo >= 0) store_pair(out_lo + c, o[j][0] * inv_lo, o[j][1] * inv_lo);
    if (node_hi >= 0) store_pair(out_hi + c, o[j][2] * inv_hi, o[j][3] * inv_hi);
  }
}

// Head dims are zero-padded to 32, 64 or 128 columns in shared memory.
inline int padded_head_dim(int head_dim) { return head_dim <= 32 ? 32 : head_dim <= 64 ? 64 : 128; }

// Whether the current device runs a flash kernel with `smem` bytes of shared
// memory per block (sm_80+ for mma.sync bf16/tf32 and cp.async).
bool device_runs_flash(size_t smem);

// Calls f(std::integral_constant<int, DP>{}) for the padded head dim dp.
template <class F>
void with_padded_dim(int dp, F&& f) {
  if (dp == 32)
    f(std::integral_constant<int, 32>{});
  else if (dp == 64)
    f(std::integral_constant<int, 64>{});
  else
    f(std::integral_constant<int, 128>{});
}

// Launches one flash kernel (both share the argument list) after the
// bad-value pre-pass: grid (query blocks, heads), `threads` per block.
template <class Kernel, class T, class TO>
void launch_flash_kernel(Kernel* kernel, size_t smem, int threads, const AttentionDeviceTiles& t,
                         const T* qkv, TO* out, cudaStream_t stream) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(smem)));
  launch_bad_value_words(t, qkv, stream);  // bad_words[kb * heads + h], see above
  const dim3 grid(static_cast<unsigned>(t.q_blocks), static_cast<unsigned>(t.heads));
  kernel<<<grid, threads, smem, stream>>>(qkv, out, t.slots, t.key_slots, t.tile_offsets,
                                          t.tile_key_block, t.tile_mask, t.masks, t.bad_words,
                                          t.heads, t.head_dim, score_scale_log2(t.head_dim), t.gate,
                                          t.gate_open);
}

}  // namespace gencast::cuda::flash
