// Block-sparse attention for the tf32 precision, FlashAttention-2 style: the
// tf32 twin of attention_flash.cu (read that first). Scores, softmax weights
// and the output accumulator live in registers (mma.sync m16n8k8 .tf32,
// float32 accumulation); K and V stream through a two-stage cp.async
// pipeline. Same function and rounding as the WMMA kernel's tf32 form
// (attention_mma.cu): q, k, v rounded to tf32 to nearest (cvt.rna), scores
// and sums in float32, weights rounded to tf32 with the row sum over the
// rounded weights, lazy running max (kMaxSlack), exact mask, rows without
// neighbours -> zeros, a non-finite V among a row's neighbours -> NaN row,
// a non-neighbour's non-finite V never read (as in the bf16 kernel, only a
// weight below 2^-126 is 0 here where exp2f would keep a denormal).
//
// Launch: grid (query blocks, heads), 128 threads = 4 warps; warp w owns the
// query rows 16w..16w+15 of its 64-row block. Float tiles are twice the size
// of bf16 ones, so K and V stream in "items" of 32 keys: each visited tile
// with a non-empty mask is two items (keys 0-31, 32-63, in order; the mask
// and bad words' matching 32-bit halves). Per item:
//   1. issue the next item's 32 K and V rows into the other stage (gathered
//      through the slot table; padding slots, columns >= head_dim and the V
//      rows of keys flagged in bad_words are zero-filled by cp.async, so no
//      NaN reaches a tensor core through a zero weight). The next tile's
//      mask index and key block are read one item ahead, so an issue waits
//      for one level of loads (slots, words), not a chain of three;
//   2. wait for this item, barrier;
//   3. a warp none of whose 16 rows attends to any of the 32 keys skips to
//      step 6 (its softmax state would not change);
//   4. S = Q K^T (16 x 32), skipping 8-key groups none of the warp's rows
//      attends to; each group's k-steps are spread over kChains accumulators,
//      summed at the end (float32 either way; only the summation order
//      differs);
//   5. exact mask, online softmax per row (lazy max over the item's 32 keys),
//      weights rounded to tf32 in registers; O = O * corr + P V, skipping
//      the same 8-key groups (their weights are all 0);
//   6. barrier (the stage is refilled by the next item's step 1).
// Finally O / l goes from registers to the output rows through the slot table.
//
// Rounding (all to nearest, ties away, = cvt.rna.tf32.f32): Q once, with
// cvt, when it enters registers; the weights with cvt (l needs their exact
// rounded values); K and V per use, as they come out of shared memory, by
// adding half a tf32 ulp to the bits and letting the MMA drop the low 13
// bits (ptx::tf32_operand): 2 instructions per K value (it may be
// non-finite) and 1 per V value (staged V is finite with finite roundings:
// bad_words flags exactly the rows where that fails, and those are zero).
// Rounding a staged tile in place once would save the 4-fold repetition
// over the warps but costs another full pass through shared memory, whose
// bandwidth is the tighter limit here (every warp reads all of K and V).
//
// Fragment invariants (g = lane / 4, t = lane % 4; layouts in mma_ptx.cuh):
//  * Q: qf[ks] is the A fragment of dims 8ks..8ks+7 of the warp's rows:
//    ldmatrix_x4 with lane l addressing row 16w + l % 16, dim 8ks + 4(l / 16),
//    so matrix 0 = (rows 0-7, dims +0..3) -> a0 = (g, t), matrix 1 = rows 8-15
//    -> a1, matrices 2, 3 = dims +4..7 -> a2, a3. Rounded once.
//  * K: for the key group j (keys 8j..8j+7 of the item) and dims 16kk..16kk+15,
//    lane l addresses key 8j + l % 8, dim 16kk + 4(l / 8): register i holds
//    K[8j + g][16kk + 4i + t], so b[0], b[1] = (k t, k t+4; n g) of k-step 2kk
//    (B(k = dim, n = key) = K[key][dim]) and b[2], b[3] those of k-step 2kk+1.
//  * S: s[j] = C fragment of keys 8j..8j+7: s[j][0..1] = row g, keys 8j+2t,
//    8j+2t+1; s[j][2..3] = row g+8, the same keys.
//  * P V: for the k8 step over keys 8j..8j+7 the k index is permuted instead
//    of the data: A column t <-> key 8j+2t, column t+4 <-> key 8j+2t+1. Then
//    a = {p[j][0], p[j][2], p[j][1], p[j][3]} (a0 = (g, key 8j+2t),
//    a1 = (g+8, 8j+2t), a2 = (g, 8j+2t+1), a3 = (g+8, 8j+2t+1)) and
//    b0 = V[8j+2t][8dn+g], b1 = V[8j+2t+1][8dn+g] (two scalar loads) for the
//    n8 tile dn of O. The product sums the same 8 terms in another order.
//  * O: o[dn] = C fragment of dims 8dn..8dn+7: (g, 8dn+2t), (g, 8dn+2t+1),
//    (g+8, ...), stored as pairs (head_dim % 4 == 0: a pair is all in or out).
//
// Shared memory (floats; rows padded by 4 floats = 16 bytes): two stages of
// K and V, 32 x (DP + 4) each; the 64 Q rows are staged once into stage 1
// (the same size), read into registers, then the pipeline starts. With the
// pad, the 8 rows of every ldmatrix phase start 4 banks apart (distinct
// banks) and the 32 lanes of a V load hit banks 8t + g (+4): distinct too.
// 66 KiB at DP = 128 (fits sm_89's 99 KiB; three blocks per H100 SM by
// shared memory, two by registers).
// Requirements (checked by the launcher, else the WMMA kernel runs): f32 qkv
// 16-byte aligned with head_dim % 4 == 0 (whole 16-byte chunks), output
// aligned for pair stores, the plan's bad_words scratch, sm_80+.
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
using flash::kRows;
using flash::kThreads;
using flash::store_pair;

constexpr int kItem = 32;  // keys per pipeline item (half a tile)
constexpr int kGroups = kItem / 8;  // 8-key groups per item: n8 tiles of S, k8 steps of P V
constexpr int kChains = 4;  // independent accumulators per S tile (k-steps ks % kChains)

template <int DP>
struct Tf32Layout {
  static constexpr int kLd = DP + 4;                  // floats per shared row
  static constexpr int kRowsTile = kItem * kLd;       // K or V of one item
  static constexpr int kStage = 2 * kRowsTile;        // K then V
  static constexpr size_t kBytes = size_t{2} * kStage * sizeof(float);
  static_assert(kRows * kLd == kStage, "Q is staged into one stage");
  static_assert(kLd * sizeof(float) % 16 == 0, "ldmatrix and cp.async rows are 16-byte aligned");
  // Registers at DP = 128 (Q 64, O 64, S and P 16 each) leave two blocks per
  // SM; smaller head dims fit more (DP = 64 spills under the cap of 4).
  static constexpr int kMinBlocks = DP == 128 ? 2 : DP == 64 ? 3 : 4;
};

// Issues the copies of kN rows of DP floats: row r <- the head's segment of
// node nodes[r] (base points at q or k of head h of node 0), zeros for
// padding slots and columns >= head_dim. With kWithV also the V rows (at
// base + v_offset in global memory, kN rows after dst in shared memory),
// zeros for the rows whose bit is set in zero_v as well. K and V share the
// row address arithmetic.
template <int DP, int kN, bool kWithV>
__device__ __forceinline__ void issue_rows(float* dst, const float* base, int64_t stride,
                                           const int32_t* nodes, int head_dim, int64_t v_offset,
                                           uint32_t zero_v) {
  constexpr int kLd = Tf32Layout<DP>::kLd;
  constexpr int kPerRow = DP / 4;  // 16-byte chunks
  constexpr int kPerThread = kN * kPerRow / kThreads;
  static_assert(kN * kPerRow % kThreads == 0);
  static_assert(!kWithV || kN <= 32, "zero_v has a bit per row");
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int idx = static_cast<int>(threadIdx.x) + i * kThreads;
    const int r = idx / kPerRow, d = idx % kPerRow * 4;
    const int64_t node = nodes[r];
    const bool live = node >= 0 && d < head_dim;
    const float* src = live ? base + node * stride + d : base;
    ptx::cp_async_16(dst + r * kLd + d, src, live ? 16 : 0);
    if constexpr (kWithV) {
      const bool live_v = live && ((zero_v >> r) & 1u) == 0;
      ptx::cp_async_16(dst + (kN + r) * kLd + d, src + v_offset, live_v ? 16 : 0);
    }
  }
}

template <int DP, class TO>
__global__ void __launch_bounds__(kThreads, Tf32Layout<DP>::kMinBlocks)
    attention_flash_tf32_kernel(const float* __restrict__ qkv, TO* __restrict__ out,
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
  __trap();  // mma.sync tf32 and cp.async need sm_80; the launcher never starts this below
#else
  if (flash::gate_closed(gate, gate_open)) return;
  using Layout = Tf32Layout<DP>;
  constexpr int kLd = Layout::kLd;
  constexpr int kKSteps = DP / 8;  // k8 steps of Q K^T
  constexpr int kOTiles = DP / 8;  // n8 tiles of O

  extern __shared__ __align__(128) unsigned char smem[];
  float* const kv = reinterpret_cast<float*>(smem);  // stage s: K at kv + s*kStage, V after

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, tq = lane % 4;  // fragment row and column (mma_ptx.cuh)
  const int qb = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
  const int64_t hd = int64_t{heads} * head_dim, stride = 3 * hd;
  const float* const q_base = qkv + int64_t{h} * head_dim;
  const int32_t* const qslots = slots + int64_t{qb} * kRows;
  const int row_lo = warp * 16 + g;  // this thread's two query rows: row_lo, row_lo + 8

  const int t_end = tile_offsets[qb + 1];
  // Tile metadata is read ahead so that issuing an item waits for one level
  // of loads (its slots and bad word), not for the chain tile_mask ->
  // tile_key_block -> slots: the next tile's mask index and key block are
  // loaded while the current tile's first item is processed.
  struct Tile {
    int t = 0, kb = 0;              // tile index (>= t_end: none) and its key block
    uint64_t lo = 0, hi = 0, bad = 0;  // mask words of rows row_lo, row_lo + 8; bad V keys
  };
  // The first tile at or after t whose mask is not the shared empty mask 0
  // (those add nothing, attention_tiles.h); m and kb hold tile t's mask
  // index and key block on entry, that tile's on return.
  const auto skip_empty = [&](int t, int& m, int& kb) {
    while (t < t_end && m == 0) {
      if (++t < t_end) {
        m = tile_mask[t];
        kb = tile_key_block[t];
      }
    }
    return t;
  };
  const auto load_tile = [&](int t, int m, int kb) {
    Tile tile;
    tile.t = t;
    tile.kb = kb;
    if (t < t_end) {
      const int64_t mrow = int64_t{m} * kRows;
      tile.lo = masks[mrow + row_lo];
      tile.hi = masks[mrow + row_lo + 8];
      tile.bad = bad_words[int64_t{kb} * heads + h];
    }
    return tile;
  };
  const auto issue_item = [&](const Tile& tile, int half, int stage) {
    const int32_t* kslots = key_slots + int64_t{tile.kb} * kRows + kItem * half;
    issue_rows<DP, kItem, true>(kv + stage * Layout::kStage, q_base + hd, stride, kslots,
                                head_dim, hd, static_cast<uint32_t>(tile.bad >> (32 * half)));
  };

  // Q goes through stage 1, the first item into stage 0.
  issue_rows<DP, kRows, false>(kv + Layout::kStage, q_base, stride, qslots, head_dim, 0, 0);
  int pt = tile_offsets[qb], pm = 0, pkb = 0;  // read-ahead: a tile, its mask index, key block
  if (pt < t_end) {
    pm = tile_mask[pt];
    pkb = tile_key_block[pt];
  }
  pt = skip_empty(pt, pm, pkb);
  Tile cur = load_tile(pt, pm, pkb);  // the tile of the current item
  int half = 0;                       // the current item: keys 32*half.. of tile cur
  if (cur.t < t_end) issue_item(cur, 0, 0);
  ptx::cp_async_commit();
  ptx::cp_async_wait<0>();
  __syncthreads();

  uint32_t qf[kKSteps][4];  // the warp's 16 query rows as A fragments, rounded to tf32
#pragma unroll
  for (int ks = 0; ks < kKSteps; ++ks) {
    ptx::ldmatrix_x4(qf[ks], kv + Layout::kStage + (warp * 16 + lane % 16) * kLd + ks * 8 +
                                 lane / 16 * 4);
#pragma unroll
    for (int i = 0; i < 4; ++i) qf[ks][i] = ptx::cvt_rna_tf32(qf[ks][i]);
  }
  __syncthreads();  // every warp holds its Q before stage 1 is refilled

  float o[kOTiles][4];
#pragma unroll
  for (int j = 0; j < kOTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float m_lo = -INFINITY, m_hi = -INFINITY;  // running max per row (log2 units)
  float l_lo = 0.f, l_hi = 0.f;              // this thread's part of the row sums
  bool nan_lo = false, nan_hi = false;       // a neighbour's value is non-finite
  int stage = 0;

  while (cur.t < t_end) {
    // Issue the next item: the second half of this tile, or the first half
    // of the next non-empty one.
    Tile next = cur;
    if (half == 0) {
      issue_item(cur, 1, stage ^ 1);
      pt = cur.t + 1;  // read ahead; first used by the next iteration
      pm = pkb = 0;
      if (pt < t_end) {
        pm = tile_mask[pt];
        pkb = tile_key_block[pt];
      }
    } else {
      pt = skip_empty(pt, pm, pkb);
      next = load_tile(pt, pm, pkb);
      if (next.t < t_end) issue_item(next, 0, stage ^ 1);
    }
    ptx::cp_async_commit();  // possibly empty: the wait below always leaves one group
    ptx::cp_async_wait<1>();
    __syncthreads();  // this item's K and V are in place for every warp

    // This item's 32-bit halves of the tile's words.
    const int shift = 32 * half;
    const auto bits_lo = static_cast<uint32_t>(cur.lo >> shift);
    const auto bits_hi = static_cast<uint32_t>(cur.hi >> shift);
    const auto bits_bad = static_cast<uint32_t>(cur.bad >> shift);
    nan_lo = nan_lo || (bits_lo & bits_bad) != 0;
    nan_hi = nan_hi || (bits_hi & bits_bad) != 0;
    // Keys any of the warp's 16 rows attends to (the same in every lane).
    const uint32_t warp_keys = __reduce_or_sync(kFullMask, bits_lo | bits_hi);
    if (warp_keys != 0) {  // warp-uniform
      const float* const ks_tile = kv + stage * Layout::kStage;
      const float* const vs_tile = ks_tile + Layout::kRowsTile;
      bool live[kGroups];
#pragma unroll
      for (int j = 0; j < kGroups; ++j) live[j] = ((warp_keys >> (8 * j)) & 0xffu) != 0;

      float s[kGroups][4];  // scores of rows (g, g+8) x keys 8j + 2tq, +1
#pragma unroll
      for (int j = 0; j < kGroups; ++j) {
        s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
        if (!live[j]) continue;  // those scores are masked, never read
        // One branch per key group, so the group's K fragment loads can all
        // be in flight together; kChains independent accumulators (k-steps
        // ks % kChains) keep the dependent MMA chains short.
        float part[kChains][4];
#pragma unroll
        for (int c = 0; c < kChains; ++c) part[c][0] = part[c][1] = part[c][2] = part[c][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < DP / 16; ++kk) {
          uint32_t b[4];
          ptx::ldmatrix_x4(b, ks_tile + (8 * j + lane % 8) * kLd + 16 * kk + lane / 8 * 4);
#pragma unroll
          for (int i = 0; i < 4; ++i) b[i] = ptx::tf32_operand(b[i]);  // K may hold NaN/Inf
          ptx::mma_tf32_1688(part[2 * kk % kChains], qf[2 * kk], b[0], b[1]);
          ptx::mma_tf32_1688(part[(2 * kk + 1) % kChains], qf[2 * kk + 1], b[2], b[3]);
        }
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float sum = part[0][e];
#pragma unroll
          for (int c = 1; c < kChains; ++c) sum += part[c][e];
          s[j][e] = sum;
        }
      }

      // Online softmax: rows g (s[.][0..1], bits_lo) and g+8 (s[.][2..3], bits_hi).
      float corr_lo, corr_hi;
      flash::mask_scores_and_move_max(s, bits_lo, bits_hi, scale_log2, tq, m_lo, m_hi, o, corr_lo,
                                      corr_hi);
      const float mu_lo = flash::weight_origin(m_lo), mu_hi = flash::weight_origin(m_hi);
      float sum_lo = 0.f, sum_hi = 0.f;
      uint32_t p[kGroups][4];  // weights as tf32 bits, in S's fragment positions
#pragma unroll
      for (int j = 0; j < kGroups; ++j) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          // Rounded to tf32 so that l sums exactly the weights the tensor
          // cores multiply.
          const float w_lo = ptx::round_tf32(ptx::exp2_ftz(s[j][e] - mu_lo));
          const float w_hi = ptx::round_tf32(ptx::exp2_ftz(s[j][2 + e] - mu_hi));
          sum_lo += w_lo;
          sum_hi += w_hi;
          p[j][e] = __float_as_uint(w_lo);
          p[j][2 + e] = __float_as_uint(w_hi);
        }
      }
      l_lo = l_lo * corr_lo + sum_lo;
      l_hi = l_hi * corr_hi + sum_hi;

#pragma unroll
      for (int j = 0; j < kGroups; ++j) {  // keys 8j..8j+7 as the k of P V
        if (!live[j]) continue;             // all those weights are 0
        const uint32_t a[4] = {p[j][0], p[j][2], p[j][1], p[j][3]};
        const float* const v0 = vs_tile + (8 * j + 2 * tq) * kLd + g;  // key 8j+2t, dim g
#pragma unroll
        for (int dn = 0; dn < kOTiles; ++dn) {
          // Staged V is finite with finite tf32 roundings: the bad_words
          // rows were zero-filled (step 1).
          const uint32_t b0 = ptx::tf32_operand_finite(__float_as_uint(v0[8 * dn]));
          const uint32_t b1 = ptx::tf32_operand_finite(__float_as_uint(v0[kLd + 8 * dn]));
          ptx::mma_tf32_1688(o[dn], a, b0, b1);
        }
      }
    }
    __syncthreads();  // every warp is done with this stage before it is refilled
    if (half == 1) cur = next;
    half ^= 1;
    stage ^= 1;
  }
  ptx::cp_async_wait<0>();

  flash::store_output_rows(o, l_lo, l_hi, nan_lo, nan_hi, qslots, row_lo, out, hd, h, head_dim,
                           tq);
#endif
}

}  // namespace

bool attention_flash_tf32_runs(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv,
                               const void* out, DType t_out) {
  // Pair stores: 8 bytes for float output, 4 for bf16 (row offsets are even).
  const size_t out_align = t_out == DType::bf16 ? 4 : 8;
  if (t_qkv != DType::f32 || t.head_dim % 4 != 0 || !is_aligned(qkv, 16) ||
      !is_aligned(out, out_align) || t.bad_words == nullptr || t.bad_nodes == nullptr)
    return false;
  const int dp = flash::padded_head_dim(t.head_dim);
  size_t smem = 0;
  flash::with_padded_dim(dp, [&](auto d) { smem = Tf32Layout<decltype(d)::value>::kBytes; });
  return flash::device_runs_flash(smem);
}

bool attention_flash_tf32_launch(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv,
                                 void* out, DType t_out, cudaStream_t stream) {
  if (!attention_flash_tf32_runs(t, qkv, t_qkv, out, t_out)) return false;
  const int dp = flash::padded_head_dim(t.head_dim);
  const auto* qp = static_cast<const float*>(qkv);
  dispatch_float_type(t_out, "attention", [&](auto ot) {
    using TO = decltype(ot);
    flash::with_padded_dim(dp, [&](auto d) {
      constexpr int DP = decltype(d)::value;
      flash::launch_flash_kernel(&attention_flash_tf32_kernel<DP, TO>, Tf32Layout<DP>::kBytes,
                                 kThreads, t, qp, static_cast<TO*>(out), stream);
    });
  });
  return true;
}

}  // namespace gencast::cuda
