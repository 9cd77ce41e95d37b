// Flash-style block-sparse attention kernel, SIMT float32 (first version),
// and the launcher that picks it or a tensor-core kernel (attention_flash.cu,
// attention_flash_tf32.cu, attention_mma.cu).
//
// Launch: grid (query blocks, heads), 256 threads = 64 query slots x 4 lanes.
// Query and key rows are read (and outputs written) through the plan's slot
// table, so a block's 64 queries need not be consecutive nodes.
// The 4 lanes of a row (a "quad", adjacent lanes of one warp) each own a
// quarter of the head dimension, padded to DP (16/32/64/128): lane `sub`
// owns dims 16*c + 4*sub + {0..3}, so its query slice, its output
// accumulator and its reads of staged K/V rows are float4-wide. For every
// visited tile the block stages the 64 key and value rows of its head in
// shared memory (2 * 64 * DP floats; 64 KiB at D = 128, above the default
// 48 KiB limit, raised with cudaFuncSetAttribute; rows gathered through the
// tile's 64 key nodes, staged first), then each quad computes
// partial dot products for 32 keys at a time, completes them with two
// butterfly shuffles (all four lanes end with bitwise-equal scores, hence
// equal running max and sum), applies the row's bitmask and does the online
// softmax update: m' = max(m, tile max), rescale l and acc by exp(m - m'),
// add exp(s - m') v for unmasked keys only.
#include "attention.cuh"

#include <cmath>
#include <stdexcept>
#include <string>

#include "attention_tiles.h"
#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"

namespace gencast::cuda {
namespace {

constexpr int kBlock = kAttentionBlock;    // query rows and keys per tile
constexpr int kThreads = kBlock * 4;       // 4 lanes per query row
constexpr int kKeysPerStep = 32;           // keys scored per softmax update

template <int DP, int SV, class TQ, class TO>
__global__ void __launch_bounds__(kThreads, 2)
    attention_kernel(const TQ* __restrict__ qkv, TO* __restrict__ out,
                     const int32_t* __restrict__ slots, const int32_t* __restrict__ key_slots,
                     const int32_t* __restrict__ tile_offsets,
                     const int32_t* __restrict__ tile_key_block,
                     const int32_t* __restrict__ tile_mask, const uint64_t* __restrict__ masks,
                     int heads, int head_dim, float scale) {
  constexpr int kChunks = DP / 16;  // float4 chunks per lane
  constexpr int kGroups = DP / SV;  // staging groups per key row
  __shared__ int32_t key_nodes[kBlock];  // the current tile's key nodes (-1 = padding)
  extern __shared__ float4 smem4[];
  float* ks = reinterpret_cast<float*>(smem4);  // [kBlock][DP]
  float* vs = ks + kBlock * DP;                 // [kBlock][DP]

  const int qb = blockIdx.x, h = blockIdx.y;
  const int tid = threadIdx.x;
  const int row = tid / 4, sub = tid % 4;
  const int64_t q = slots[int64_t{qb} * kBlock + row];  // node of this query slot, -1 = padding
  const int64_t hd = int64_t{heads} * head_dim;
  const int64_t stride = 3 * hd;

  float qv[kChunks][4], acc[kChunks][4];
#pragma unroll
  for (int c = 0; c < kChunks; ++c)
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const int d = 16 * c + 4 * sub + v;
      qv[c][v] = q >= 0 && d < head_dim ? to_f32(qkv[q * stride + h * head_dim + d]) : 0.f;
      acc[c][v] = 0.f;
    }
  float m = -INFINITY, l = 0.f;

  const int t_end = tile_offsets[qb + 1];
  for (int t = tile_offsets[qb]; t < t_end; ++t) {
    const int64_t key0 = int64_t{tile_key_block[t]} * kBlock;
    const uint64_t mask = masks[int64_t{tile_mask[t]} * kBlock + row];
    __syncthreads();  // the previous tile's K/V and key nodes are no longer read
    if (tid < kBlock) key_nodes[tid] = key_slots[key0 + tid];
    __syncthreads();
    // Stage K and V rows, SV elements per load (SV = 4 needs head_dim % 4 == 0,
    // so a group is either all real dims or all padding).
    for (int idx = tid; idx < kBlock * kGroups; idx += kThreads) {
      const int r = idx / kGroups, d = (idx % kGroups) * SV;
      const int64_t key = key_nodes[r];
      float kval[SV], vval[SV];
      if (key >= 0 && d < head_dim) {
        const TQ* src = qkv + key * stride + h * head_dim + d;
        load_vec<SV>(src + hd, kval);
        load_vec<SV>(src + 2 * hd, vval);
      } else {
#pragma unroll
        for (int i = 0; i < SV; ++i) kval[i] = vval[i] = 0.f;  // padding: zero (and masked)
      }
      store_vec<SV>(ks + r * DP + d, kval);
      store_vec<SV>(vs + r * DP + d, vval);
    }
    __syncthreads();

#pragma unroll
    for (int half = 0; half < kBlock / kKeysPerStep; ++half) {
      const auto bits = static_cast<uint32_t>(mask >> (kKeysPerStep * half));
      // Tiles are sparse (on the 0.25-degree mesh ~13% of visited pairs are
      // neighbours): a warp whose 8 rows have no neighbour among these keys
      // skips them. The condition is warp-uniform, so the shuffles below
      // still see every lane.
      if (!__any_sync(0xffffffffu, bits != 0u)) continue;
      float s[kKeysPerStep];
#pragma unroll
      for (int j = 0; j < kKeysPerStep; ++j) {
        const float* krow = ks + (kKeysPerStep * half + j) * DP + 4 * sub;
        float partial = 0.f;
#pragma unroll
        for (int c = 0; c < kChunks; ++c) {
          const float4 k4 = *reinterpret_cast<const float4*>(krow + 16 * c);
          partial += qv[c][0] * k4.x + qv[c][1] * k4.y + qv[c][2] * k4.z + qv[c][3] * k4.w;
        }
        // Every lane of the warp takes part: no early exit precedes this point.
        partial += __shfl_xor_sync(0xffffffffu, partial, 1);
        partial += __shfl_xor_sync(0xffffffffu, partial, 2);
        s[j] = partial;
      }
      float smax = -INFINITY;
#pragma unroll
      for (int j = 0; j < kKeysPerStep; ++j) {
        s[j] = (bits >> j) & 1u ? s[j] * scale : -INFINITY;
        smax = fmaxf(smax, s[j]);
      }
      if (bits != 0u) {  // at least one neighbour among these keys
        // fmaxf skips NaN scores, so m_new stays -inf only if every score here
        // is NaN; exp(NaN - m_new) below then makes the output NaN, as on the CPU.
        const float m_new = fmaxf(m, smax);
        // 0 on the first update (m = -inf, m_new finite); 1 if both are -inf.
        const float corr = m_new == -INFINITY ? 1.f : expf(m - m_new);
        l *= corr;
#pragma unroll
        for (int c = 0; c < kChunks; ++c)
#pragma unroll
          for (int v = 0; v < 4; ++v) acc[c][v] *= corr;
#pragma unroll
        for (int j = 0; j < kKeysPerStep; ++j) {
          if ((bits >> j) & 1u) {
            const float p = expf(s[j] - m_new);
            l += p;
            const float* vrow = vs + (kKeysPerStep * half + j) * DP + 4 * sub;
#pragma unroll
            for (int c = 0; c < kChunks; ++c) {
              const float4 v4 = *reinterpret_cast<const float4*>(vrow + 16 * c);
              acc[c][0] += p * v4.x;
              acc[c][1] += p * v4.y;
              acc[c][2] += p * v4.z;
              acc[c][3] += p * v4.w;
            }
          }
        }
        m = m_new;
      }
    }
  }

  if (q < 0) return;
  // No neighbours at all: zeros, like the CPU; a NaN l (NaN input) stays NaN.
  const float inv = l == 0.f ? 0.f : 1.f / l;
  TO* orow = out + q * hd + h * head_dim;
#pragma unroll
  for (int c = 0; c < kChunks; ++c)
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const int d = 16 * c + 4 * sub + v;
      if (d < head_dim) orow[d] = from_f32<TO>(acc[c][v] * inv);
    }
}

template <int DP, class TQ, class TO>
void launch_padded(const AttentionDeviceTiles& t, const TQ* qkv, TO* out, cudaStream_t stream) {
  const size_t smem = size_t{2} * kBlock * DP * sizeof(float);
  // 4-wide staging loads: every row segment h*D + d (d % 4 == 0) of every
  // row (stride 3*H*D) is then 4-element aligned if the base is.
  const bool vec4 = t.head_dim % 4 == 0 && is_aligned(qkv, 4 * sizeof(TQ));
  auto* kernel = vec4 ? &attention_kernel<DP, 4, TQ, TO> : &attention_kernel<DP, 1, TQ, TO>;
  if (smem > 48 * 1024)
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem)));
  const dim3 grid(static_cast<unsigned>(t.q_blocks), static_cast<unsigned>(t.heads));
  const float scale = 1.f / std::sqrt(static_cast<float>(t.head_dim));
  kernel<<<grid, kThreads, smem, stream>>>(qkv, out, t.slots, t.key_slots, t.tile_offsets,
                                           t.tile_key_block, t.tile_mask, t.masks, t.heads,
                                           t.head_dim, scale);
}

void simt_launch(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv, void* out,
                 DType t_out, cudaStream_t stream) {
  dispatch_float_type(t_qkv, "attention", [&](auto qt) {
    dispatch_float_type(t_out, "attention", [&](auto ot) {
      using TQ = decltype(qt);
      using TO = decltype(ot);
      const auto* qp = static_cast<const TQ*>(qkv);
      auto* op = static_cast<TO*>(out);
      if (t.head_dim <= 16)
        launch_padded<16>(t, qp, op, stream);
      else if (t.head_dim <= 32)
        launch_padded<32>(t, qp, op, stream);
      else if (t.head_dim <= 64)
        launch_padded<64>(t, qp, op, stream);
      else
        launch_padded<128>(t, qp, op, stream);
    });
  });
}

}  // namespace

AttentionMath attention_math_for(Precision precision) {
  switch (precision) {
    case Precision::fp32: return AttentionMath::f32_simt;
    case Precision::tf32: return AttentionMath::tf32_mma;
    case Precision::bf16: return AttentionMath::bf16_mma;
  }
  return AttentionMath::f32_simt;
}

const char* attention_math_name(AttentionMath math) {
  switch (math) {
    case AttentionMath::f32_simt: return "f32-simt";
    case AttentionMath::tf32_mma: return "tf32-mma";
    case AttentionMath::bf16_mma: return "bf16-mma";
  }
  return "?";
}

void attention_launch(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv, void* out,
                      DType t_out, AttentionMath math, cudaStream_t stream) {
  if (t.head_dim < 1 || t.head_dim > kAttentionMaxHeadDim)
    throw std::invalid_argument("cuda backend attention: head_dim must be in [1, 128], found " +
                                std::to_string(t.head_dim));
  if (t.heads < 1 || t.heads > 65535)
    throw std::invalid_argument("cuda backend attention: heads must be in [1, 65535]");
  if (t.q_blocks > 0x7fffffff || t.k_blocks > 0x7fffffff)
    throw std::invalid_argument("cuda backend attention: too many nodes");
  if (t.nodes == 0) return;
  const bool done =
      (math == AttentionMath::bf16_mma &&
       attention_wgmma_launch(t, qkv, t_qkv, out, t_out, stream)) ||
      (math == AttentionMath::bf16_mma &&
       attention_flash_launch(t, qkv, t_qkv, out, t_out, stream)) ||
      (math == AttentionMath::tf32_mma &&
       attention_flash_tf32_launch(t, qkv, t_qkv, out, t_out, stream)) ||
      (math != AttentionMath::f32_simt &&
       attention_mma_launch(t, qkv, t_qkv, out, t_out, math, stream));
  if (!done) simt_launch(t, qkv, t_qkv, out, t_out, stream);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace gencast::cuda
