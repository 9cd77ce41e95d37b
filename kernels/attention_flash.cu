// Block-sparse attention for the bf16 precision, FlashAttention-2 style:
// scores, softmax weights and the output accumulator live in registers
// (mma.sync m16n8k16, float32 accumulation); K and V tiles stream through a
// two-stage cp.async pipeline, so the next tile's gather overlaps this
// tile's arithmetic. Same function and the same rounding as the WMMA kernel
// (attention_mma.cu): q, k, v in bf16, scores in float32, weights rounded to
// bf16 with the row sum over the rounded weights, lazy running max (only a
// weight below 2^-126, negligible next to the row's max weight >= 1, is 0
// here where exp2f would keep it as a denormal).
//
// Launch: grid (query blocks, heads), 128 threads = 4 warps; warp w owns the
// query rows 16w..16w+15 of its 64-row block for the whole kernel. Per
// tile (the plan keeps only tiles with neighbours):
//   1. issue the next tile's K and V rows (gathered through the slot table,
//      padding slots and columns >= head_dim zero-filled by cp.async), and
//      load the key block and mask index of the tile after it;
//   2. wait for this tile, barrier;
//   3. if a key of this tile has a non-finite V (bad_words, computed by a
//      pre-pass over V), zero those V rows in shared memory and flag the rows
//      that attend to one (their output becomes NaN, like the CPU's) --
//      0 * NaN = NaN on a tensor core would otherwise leak into every row;
//   4. S = Q K^T for the warp's rows, skipping the halves of the tile (32
//      keys) none of them attends to (Q's fragments stay in registers);
//   5. exact mask (masked score -inf, so its weight exp2(-inf) is exactly 0),
//      online softmax per row, weights packed to bf16 A fragments in
//      registers;
//   6. O = O * corr + P V, skipping 16-key groups without weight;
//   7. barrier (the stage is refilled by the next iteration's step 1).
// Finally O / l goes straight from registers to the output rows.
//
// Shared memory: Q and two stages of K and V, 64 x (DP + 8) bf16 each (the
// 16-byte row pad makes the 8 rows of every ldmatrix phase hit distinct
// banks): 85 KiB at DP = 128, so two blocks fit an H100 SM.
// Requirements (checked by the launcher, else the WMMA kernel runs):
// head_dim % 8 == 0 (whole 16-byte chunks), bf16 qkv 16-byte aligned, sm_80+.
#include "attention.cuh"
#include "attention_flash_common.cuh"
#include "attention_tiles.h"

#include <cmath>
#include <cstdint>

#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"
#include "mma_ptx.cuh"

namespace gencast::cuda {
namespace {

using flash::kFullMask;
using flash::kRows;  // query rows per block = keys per tile
using flash::kThreads;
using flash::store_pair;

template <int DP>
struct FlashLayout {
  static constexpr int kLd = DP + 8;  // elements per shared row
  static constexpr int kTile = kRows * kLd;
  static constexpr size_t kBytes = size_t{5} * kTile * sizeof(bf16);  // Q + 2 x (K, V)
};

// Issues the copies of `parts` 64 x DP tiles of the same rows: tile p, row r
// <- the head's segment of node nodes[r] in part p (part_base points at q, k
// or v of head h of node 0; the parts follow each other `part_step` elements
// apart in a row, and their tiles FlashLayout<DP>::kTile elements apart in
// shared memory). K and V of a key tile are issued together, so each row's
// node and address are computed once for both.
template <int DP, int kParts>
__device__ __forceinline__ void issue_tiles(bf16* dst, const bf16* part_base, int64_t part_step,
                                            int64_t stride, const int32_t* nodes, int head_dim) {
  constexpr int kPerRow = DP / 8;
  constexpr int kPerThread = kRows * kPerRow / kThreads;
  static_assert(kRows * kPerRow % kThreads == 0);
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int idx = static_cast<int>(threadIdx.x) + i * kThreads;
    const int r = idx / kPerRow, d = idx % kPerRow * 8;
    const int64_t node = nodes[r];
    const bool live = node >= 0 && d < head_dim;
    const bf16* src = live ? part_base + node * stride + d : part_base;
    bf16* const to = dst + r * FlashLayout<DP>::kLd + d;
#pragma unroll
    for (int p = 0; p < kParts; ++p)
      ptx::cp_async_16(to + p * FlashLayout<DP>::kTile, src + p * part_step, live ? 16 : 0);
  }
}

// S += Q K^T for key groups [K0, K1) of 16 keys: the k-steps (head dims)
// outermost, so the 2 (K1 - K0) accumulators form independent chains.
template <int DP, int K0, int K1>
__device__ __forceinline__ void tile_scores(float (&s)[8][4], const uint32_t (&qf)[DP / 16][4],
                                            const bf16* ks_tile, int lane) {
  constexpr int kLd = FlashLayout<DP>::kLd;
#pragma unroll
  for (int ks = 0; ks < DP / 16; ++ks)
#pragma unroll
    for (int kp = K0; kp < K1; ++kp) {
      // B(k = dim, n = key) = K[key][dim]: K's rows, not transposed.
      uint32_t b[4];
      ptx::ldmatrix_x4(b, ks_tile + (16 * kp + lane % 8 + lane / 16 * 8) * kLd + ks * 16 +
                              lane / 8 % 2 * 8);
      ptx::mma_bf16_16816(s[2 * kp], qf[ks], b[0], b[1]);
      ptx::mma_bf16_16816(s[2 * kp + 1], qf[ks], b[2], b[3]);
    }
}

template <int DP, class TO>
__global__ void __launch_bounds__(kThreads, 2)
    attention_flash_kernel(const bf16* __restrict__ qkv, TO* __restrict__ out,
                           const int32_t* __restrict__ slots,
                           const int32_t* __restrict__ key_slots,
                           const int32_t* __restrict__ tile_offsets,
                           const int32_t* __restrict__ tile_key_block,
                           const int32_t* __restrict__ tile_mask,
                           const uint64_t* __restrict__ masks,
                           const uint64_t* __restrict__ bad_words, int heads, int head_dim,
                           float scale_log2, const int32_t* __restrict__ gate,
                           int32_t gate_open) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // mma.sync bf16 and cp.async need sm_80; the launcher never starts this below
#else
  if (flash::gate_closed(gate, gate_open)) return;
  using Layout = FlashLayout<DP>;
  constexpr int kLd = Layout::kLd;
  constexpr int kKSteps = DP / 16;  // k16 steps of Q K^T
  constexpr int kOTiles = DP / 8;   // n8 tiles of O

  extern __shared__ __align__(128) unsigned char smem[];
  bf16* const qs = reinterpret_cast<bf16*>(smem);
  bf16* const kv = qs + Layout::kTile;  // stage s: K at kv + 2s tiles, V right after

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, tq = lane % 4;  // fragment row and column pair (mma_ptx.cuh)
  const int qb = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
  const int64_t hd = int64_t{heads} * head_dim, stride = 3 * hd;
  const bf16* const q_base = qkv + int64_t{h} * head_dim;
  const int32_t* const qslots = slots + int64_t{qb} * kRows;
  const int row_lo = warp * 16 + g;  // this thread's two query rows: row_lo, row_lo + 8

  const int t_end = tile_offsets[qb + 1];
  const flash::TileReader reader{tile_key_block, tile_mask, masks, bad_words,
                                 t_end,          heads,     h,     row_lo};
  using flash::TileBits;
  using flash::TileIndex;
  const auto tile_index = [&](int t) { return reader.index(t); };
  const auto tile_bits = [&](int t, TileIndex i) { return reader.bits(t, i); };
  const auto issue_kv = [&](TileIndex i, int stage) {
    const int32_t* kslots = key_slots + int64_t{i.key_block} * kRows;
    bf16* k_dst = kv + 2 * stage * Layout::kTile;
    issue_tiles<DP, 2>(k_dst, q_base + hd, hd, stride, kslots, head_dim);  // K, then V
  };

  issue_tiles<DP, 1>(qs, q_base, 0, stride, qslots, head_dim);
  int t = tile_offsets[qb];
  const TileIndex first = tile_index(t);
  if (t < t_end) issue_kv(first, 0);
  ptx::cp_async_commit();
  TileBits bits = tile_bits(t, first);
  TileIndex next = tile_index(t + 1);
  ptx::cp_async_wait<0>();
  __syncthreads();

  uint32_t qf[kKSteps][4];  // the warp's 16 query rows as A fragments
#pragma unroll
  for (int ks = 0; ks < kKSteps; ++ks)
    ptx::ldmatrix_x4(qf[ks], qs + (warp * 16 + lane % 16) * kLd + ks * 16 + lane / 16 * 8);

  float o[kOTiles][4];
#pragma unroll
  for (int j = 0; j < kOTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float m_lo = -INFINITY, m_hi = -INFINITY;  // running max per row (log2 units)
  float l_lo = 0.f, l_hi = 0.f;              // this thread's part of the row sums
  bool nan_lo = false, nan_hi = false;       // a neighbour's value is non-finite
  int stage = 0;

  while (t < t_end) {
    const int tn = t + 1;
    if (tn < t_end) issue_kv(next, stage ^ 1);
    ptx::cp_async_commit();  // possibly empty: the wait below always leaves one group
    const TileBits next_bits = tile_bits(tn, next);
    next = tile_index(tn + 1);  // in flight while this tile computes
    ptx::cp_async_wait<1>();
    __syncthreads();  // tile t's K and V are in place for every warp

    const bf16* const ks_tile = kv + 2 * stage * Layout::kTile;
    bf16* const vs_tile = kv + (2 * stage + 1) * Layout::kTile;
    if (bits.bad != 0) {  // the same word in every thread: uniform
      constexpr int kPerRow = DP / 8;
      for (int idx = tid; idx < kRows * kPerRow; idx += kThreads) {
        const int r = idx / kPerRow;
        if ((bits.bad >> r) & 1u)
          *reinterpret_cast<uint4*>(vs_tile + r * kLd + idx % kPerRow * 8) = make_uint4(0, 0, 0, 0);
      }
      nan_lo = nan_lo || (bits.lo & bits.bad) != 0;
      nan_hi = nan_hi || (bits.hi & bits.bad) != 0;
      __syncthreads();
    }

    // Keys any of the warp's 16 rows attends to (the same in every lane).
    const uint64_t mine = bits.lo | bits.hi;
    const uint64_t warp_keys =
        uint64_t{__reduce_or_sync(kFullMask, static_cast<uint32_t>(mine >> 32))} << 32 |
        __reduce_or_sync(kFullMask, static_cast<uint32_t>(mine));

    float s[8][4];  // scores of rows (g, g+8) x keys 8j + 2tq, +1
#pragma unroll
    for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
    // Halves of the tile (keys 0-31, 32-63) none of the warp's rows attends to
    // are skipped (warp-uniform); inside a half the k-steps run outermost, so
    // four independent accumulator chains hide the MMA latency (the ncu
    // profile showed fixed-latency waits as the top stall with the 16-key
    // groups innermost: two chains of eight dependent MMAs). A 16-key group
    // without neighbours inside a live half is computed and then masked.
    if (static_cast<uint32_t>(warp_keys) != 0 && (warp_keys >> 32) != 0)
      tile_scores<DP, 0, 4>(s, qf, ks_tile, lane);
    else if (static_cast<uint32_t>(warp_keys) != 0)
      tile_scores<DP, 0, 2>(s, qf, ks_tile, lane);
    else if ((warp_keys >> 32) != 0)
      tile_scores<DP, 2, 4>(s, qf, ks_tile, lane);

    // Online softmax: rows g (s[.][0..1], bits.lo) and g+8 (s[.][2..3], bits.hi).
    float corr_lo, corr_hi;
    flash::mask_scores_and_move_max(s, bits.lo, bits.hi, scale_log2, tq, m_lo, m_hi, o, corr_lo,
                                    corr_hi);
    const float mu_lo = flash::weight_origin(m_lo), mu_hi = flash::weight_origin(m_hi);
    float sum_lo = 0.f, sum_hi = 0.f;
    uint32_t p[8][2];  // weights as bf16 pairs: [j][0] row g, [j][1] row g+8
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      // Rounded to bf16 once (a packed pair), and l sums exactly those
      // rounded weights, unpacked: the tensor cores multiply the same values.
      p[j][0] = pack_x2<bf16>(ptx::exp2_ftz(s[j][0] - mu_lo), ptx::exp2_ftz(s[j][1] - mu_lo));
      p[j][1] = pack_x2<bf16>(ptx::exp2_ftz(s[j][2] - mu_hi), ptx::exp2_ftz(s[j][3] - mu_hi));
      sum_lo += ptx::bf16_low(p[j][0]) + ptx::bf16_high(p[j][0]);
      sum_hi += ptx::bf16_low(p[j][1]) + ptx::bf16_high(p[j][1]);
    }
    l_lo = l_lo * corr_lo + sum_lo;
    l_hi = l_hi * corr_hi + sum_hi;

#pragma unroll
    for (int kp = 0; kp < 4; ++kp) {  // keys 16kp.. as the k of P V
      if (((warp_keys >> (16 * kp)) & 0xffffu) == 0) continue;  // all those weights are 0
      const uint32_t a[4] = {p[2 * kp][0], p[2 * kp][1], p[2 * kp + 1][0], p[2 * kp + 1][1]};
#pragma unroll
      for (int dp = 0; dp < DP / 16; ++dp) {
        // B(k = key, n = dim) = V[key][dim]: V's rows, transposed by ldmatrix.
        uint32_t b[4];
        ptx::ldmatrix_x4_trans(b, vs_tile + (16 * kp + lane % 16) * kLd + dp * 16 + lane / 16 * 8);
        ptx::mma_bf16_16816(o[2 * dp], a, b[0], b[1]);
        ptx::mma_bf16_16816(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with this stage before it is refilled
    t = tn;
    bits = next_bits;
    stage ^= 1;
  }
  ptx::cp_async_wait<0>();
  flash::store_output_rows(o, l_lo, l_hi, nan_lo, nan_hi, qslots, row_lo, out, hd, h, head_dim,
                           tq);
#endif
}

}  // namespace

__global__ void flash::bad_value_words_kernel(const int32_t* __restrict__ key_slots,
                                              const uint8_t* __restrict__ bad_nodes,
                                              uint64_t* __restrict__ bad_words, int64_t k_blocks,
                                              int heads, const int32_t* __restrict__ gate,
                                              int32_t gate_open) {
  if (gate_closed(gate, gate_open)) return;
  const int64_t kb = int64_t{blockIdx.x} * kWordGroupsPerBlock + threadIdx.x / kRows;
  if (kb >= k_blocks) return;  // whole warps: a group is two of them
  const int h = static_cast<int>(blockIdx.y);
  const int r = static_cast<int>(threadIdx.x % kRows);
  const int64_t node = key_slots[kb * kRows + r];
  const bool bad = node >= 0 && bad_nodes[node * heads + h] != 0;
  const unsigned word = __ballot_sync(kFullMask, bad);
  if (r % 32 == 0) reinterpret_cast<uint32_t*>(bad_words + kb * heads + h)[r / 32] = word;
}

bool flash::device_runs_flash(size_t smem) {
  int device = 0, major = 0, optin = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return major >= 8 && smem <= static_cast<size_t>(optin);
}

bool attention_flash_launch(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv,
                            void* out, DType t_out, cudaStream_t stream) {
  if (t_qkv != DType::bf16 || t.head_dim % 8 != 0 || !is_aligned(qkv, 16) ||
      t.bad_words == nullptr || t.bad_nodes == nullptr)
    return false;
  const int dp = flash::padded_head_dim(t.head_dim);
  size_t smem = 0;
  flash::with_padded_dim(dp, [&](auto d) { smem = FlashLayout<decltype(d)::value>::kBytes; });
  if (!flash::device_runs_flash(smem)) return false;
  const auto* qp = static_cast<const bf16*>(qkv);
  dispatch_float_type(t_out, "attention", [&](auto ot) {
    using TO = decltype(ot);
    flash::with_padded_dim(dp, [&](auto d) {
      constexpr int DP = decltype(d)::value;
      flash::launch_flash_kernel(&attention_flash_kernel<DP, TO>, FlashLayout<DP>::kBytes,
                                 kThreads, t, qp, static_cast<TO*>(out), stream);
    });
  });
  return true;
}

}  // namespace gencast::cuda
