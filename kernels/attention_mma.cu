// Block-sparse attention on tensor cores: the kernel of the bf16 and tf32
// precisions (WMMA fragments, float32 accumulation, float32 softmax).
//
// Launch: grid (query blocks, heads), 256 threads = 8 warps, 2 blocks per SM
// for bf16 at D <= 128 (one for tf32 at D > 64: its tiles are twice as big).
// Per block, once: the 64 query rows of its head are staged in shared memory
// (rounded to bf16 / tf32). Per visited tile whose mask is not the empty
// mask 0 (tiles without any neighbour change nothing and are skipped):
//   1. all threads stage the 64 key and value rows (gathered through the slot
//      table, padding slots as zeros), rounded like Q; a non-finite value of
//      V is replaced by 0 and its key flagged in `bad_keys`;
//   2. warp w computes S = Q K^T for query rows 16*(w/2).. and key columns
//      32*(w%2).. (two 16x16 fragments) and stores them (float32) to smem,
//      skipping a 16-key block that none of its 16 rows attends to (the OR
//      of their mask words, identical in all lanes: warp-uniform branches);
//   3. online softmax, 4 lanes per query row (lane j of a row owns columns
//      4i + j: conflict-free smem accesses): scores in log2 units, the row's
//      bitmask applied exactly (masked -> weight exactly 0, never read), the
//      running max m and sum l per row in registers of those 4 lanes; the
//      weights p (rounded to bf16 / tf32; l sums the rounded values, so the
//      output is a true convex combination) go to smem, and so does each
//      row's correction factor for O;
//   4. warp w owns O rows 16*(w/2).. and columns (D_pad/2)*(w%2)..: if any of
//      its rows has a correction != 1 its accumulator fragments make a round
//      trip through the warp's 16x16 smem scratch to be rescaled by row (the
//      fragments' element layout is opaque), then O += P V on tensor cores,
//      skipping the k-steps whose keys none of its rows attends to (all of
//      those weights are exactly 0).
// Finally O / l goes out through each warp's scratch and the slot table
// (padding slots skipped; l = 0 -> zeros, like the CPU; a flagged NaN -> NaN).
// Barriers per tile: (1) before staging (the last tile's K, V, P, corrections
// are read), (2) after staging, (3) after S, (4) after P; the scratch is
// per warp, ordered by __syncwarp.
//
// The running max is lazy: it moves only when a tile's max exceeds it by
// more than kMaxSlack (2^8 in weight), so O is rarely rescaled; numerator
// and denominator use the same max, so the function is unchanged and weights
// stay <= 256 (harmless in bf16/tf32 and float32 sums). A row's first
// neighbours set the max without rescaling: its O and l are still exactly 0
// (earlier tiles gave it weight 0 against finite, sanitized V).
//
// Head dims: D is zero-padded in shared memory to DP = 32, 64 or 128 (a
// multiple of every fragment's k and n extent), so any D in [1, 128] runs
// here; the zero columns add nothing to q.k, and O's padded columns are
// never written out. D = 8 (the tiny model) runs at DP = 32.
//
// Shared memory (bytes, rows padded by 16 bytes so the 8 rows read by one
// ldmatrix phase hit distinct banks; every fragment pointer is 32-byte
// aligned as WMMA requires): Q, K, V 64 x (DP+pad) elements each, S 64 x 68
// float, P 64 x (64+pad) elements, 8 scratch tiles of 16x16 float, 64 row
// corrections, 64 row inverses, the bad-key word. bf16 at DP = 128: 86 KiB;
// tf32 at DP = 128: 142 KiB (more than sm_89's 99 KiB: the launcher then
// returns false and the caller runs the SIMT kernel).
#include "attention.cuh"

#include <mma.h>

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <type_traits>

#include "attention_mma_frag.cuh"
#include "attention_tiles.h"
#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"

namespace gencast::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kRows = kAttentionBlock;              // queries per block = keys per tile
constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kChunk = 8;                           // elements per staging load
constexpr int kLanesPerRow = kThreads / kRows;      // softmax lanes per query row
constexpr int kColsPerLane = kRows / kLanesPerRow;  // softmax columns per lane
constexpr unsigned kFullMask = 0xffffffffu;
// Lazy running max (log2 units): see the file comment.
constexpr float kMaxSlack = 8.f;

static_assert(kRows == 64 && kWarps == 8, "warp roles below assume 8 warps on 64x64 tiles");
static_assert(kLanesPerRow == 4, "softmax row reductions are two xor-shuffles within a quad");

// Operand rounding and fragment shapes of the two tensor-core precisions.
struct MmaBf16 {
  using Elem = bf16;  // shared-memory element of q, k, v and p
  using FragA = wmma_shared::Bf16A;      // Q (row-major) and P
  using FragKt = wmma_shared::Bf16BCol;  // K^T: K's rows are its columns
  using FragV = wmma_shared::Bf16BRow;   // V
  using FragC = wmma_shared::Bf16Acc;    // S and O, float32
  static constexpr int kK = 16;        // m16n16k16
  static constexpr int kPad = 8;       // row padding in elements (16 bytes)
  static constexpr int kMinBlocks = 2;  // per SM, for __launch_bounds__
  __device__ static float round(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }
  __device__ static Elem to_elem(float rounded) { return __float2bfloat16_rn(rounded); }
};

struct MmaTf32 {
  using Elem = float;  // tf32 values are floats whose low 13 mantissa bits are 0
  using FragA = wmma_shared::Tf32A;
  using FragKt = wmma_shared::Tf32BCol;
  using FragV = wmma_shared::Tf32BRow;
  using FragC = wmma_shared::Tf32Acc;
  static constexpr int kK = 8;  // m16n16k8
  static constexpr int kPad = 4;
  static constexpr int kMinBlocks = 1;
  // Round to nearest tf32 once, when staging: the fragments then hold exact
  // tf32 values and need no conversion after load_matrix_sync.
  __device__ static float round(float v) { return wmma::__float_to_tf32(v); }
  __device__ static Elem to_elem(float rounded) { return rounded; }
};

constexpr size_t align128(size_t bytes) { return (bytes + 127) / 128 * 128; }

// Byte offsets of the shared-memory regions (all 128-byte aligned).
template <int DP, class M>
struct MmaLayout {
  using E = typename M::Elem;
  static constexpr int kLdE = DP + M::kPad;    // q, k, v rows (elements)
  static constexpr int kLdS = kRows + 4;       // score rows (floats)
  static constexpr int kLdP = kRows + M::kPad;  // weight rows (elements)
  static constexpr size_t kTile = align128(size_t{kRows} * kLdE * sizeof(E));
  static constexpr size_t kOffQ = 0;
  static constexpr size_t kOffK = kOffQ + kTile;
  static constexpr size_t kOffV = kOffK + kTile;
  static constexpr size_t kOffS = kOffV + kTile;
  static constexpr size_t kOffP = kOffS + align128(size_t{kRows} * kLdS * sizeof(float));
  static constexpr size_t kOffScratch = kOffP + align128(size_t{kRows} * kLdP * sizeof(E));
  static constexpr size_t kOffCorr = kOffScratch + size_t{kWarps} * 256 * sizeof(float);
  static constexpr size_t kOffInv = kOffCorr + kRows * sizeof(float);
  static constexpr size_t kOffBad = kOffInv + kRows * sizeof(float);
  static constexpr size_t kBytes = kOffBad + 128;
  // WMMA: ldm must be a multiple of 16 bytes and fragment pointers 32-byte
  // aligned. Fragments start at rows that are multiples of 8 (tf32 k-steps
  // of V) or 16, and at columns that are multiples of 8 tf32 / 16 bf16
  // elements or of 16 floats (32 or 64 bytes); so the row strides suffice.
  static_assert(kLdE * sizeof(E) % 16 == 0 && kLdS * sizeof(float) % 16 == 0 &&
                kLdP * sizeof(E) % 16 == 0);
  static_assert(8 * kLdE * sizeof(E) % 32 == 0 && 16 * kLdS * sizeof(float) % 32 == 0 &&
                16 * kLdP * sizeof(E) % 32 == 0);
};

// Eight consecutive elements of a row, as raw 32-bit words (registers only:
// no arrays of a different type are reinterpreted).
template <class T>
struct Raw8 {
  uint32_t w[sizeof(T) * kChunk / 4];
};

// Elements [0, count) of the row segment at src (none if count <= 0), the
// rest 0. `vec`: src is 16-byte aligned and count is >= 8 or <= 0.
__device__ __forceinline__ Raw8<bf16> load_raw(const bf16* src, int count, bool vec) {
  Raw8<bf16> r{};
  if (vec && count >= kChunk) {
    const uint4 a = __ldg(reinterpret_cast<const uint4*>(src));
    r.w[0] = a.x; r.w[1] = a.y; r.w[2] = a.z; r.w[3] = a.w;
  } else {
#pragma unroll
    for (int i = 0; i < kChunk; ++i)
      if (i < count) r.w[i / 2] |= uint32_t{__bfloat16_as_ushort(src[i])} << (16 * (i % 2));
  }
  return r;
}
__device__ __forceinline__ Raw8<float> load_raw(const float* src, int count, bool vec) {
  Raw8<float> r{};
  if (vec && count >= kChunk) {
    const uint4 a = __ldg(reinterpret_cast<const uint4*>(src));
    const uint4 b = __ldg(reinterpret_cast<const uint4*>(src) + 1);
    r.w[0] = a.x; r.w[1] = a.y; r.w[2] = a.z; r.w[3] = a.w;
    r.w[4] = b.x; r.w[5] = b.y; r.w[6] = b.z; r.w[7] = b.w;
  } else {
#pragma unroll
    for (int i = 0; i < kChunk; ++i)
      if (i < count) r.w[i] = __float_as_uint(src[i]);
  }
  return r;
}

// Element i as a float: a bf16 is the top half of a float32 (exact);
// element i of a pair sits in the low half of its little-endian word.
__device__ __forceinline__ float raw_value(const Raw8<bf16>& r, int i) {
  const uint32_t w = r.w[i / 2];
  return __uint_as_float(i % 2 ? (w & 0xffff0000u) : (w << 16));
}
__device__ __forceinline__ float raw_value(const Raw8<float>& r, int i) {
  return __uint_as_float(r.w[i]);
}

// Stores 8 values already rounded to the element type (so the packing is exact).
__device__ __forceinline__ void store8(bf16* dst, const float (&v)[kChunk]) {
  uint32_t w[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const __nv_bfloat162 pair = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);  // .x = low half
    w[i] = *reinterpret_cast<const uint32_t*>(&pair);
  }
  *reinterpret_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
}
__device__ __forceinline__ void store8(float* dst, const float (&v)[kChunk]) {
  reinterpret_cast<float4*>(dst)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(dst)[1] = make_float4(v[4], v[5], v[6], v[7]);
}

// Chunk i of this thread: row r, first column d, of a 64 x DP staging.
template <int DP>
struct ChunkPos {
  int r, d;
  __device__ explicit ChunkPos(int i) {
    constexpr int kPerRow = DP / kChunk;
    const int idx = static_cast<int>(threadIdx.x) + i * kThreads;
    r = idx / kPerRow;
    d = idx % kPerRow * kChunk;
  }
};

// Stages kN tensors' rows of one head for the 64 nodes of a slot block
// (nodes[r] = node in slot r, -1 = padding): dst[n][r][0, DP) = src[n] of
// that node, rounded to M's element; zeros for padding slots and columns
// >= head_dim. All loads are issued before the first store, so they are in
// flight together. With `bad`, the last tensor (V) is sanitized: a
// non-finite value (after rounding: a huge float can round to Inf) becomes
// 0 and sets its slot's bit in *bad.
template <int DP, class M, int kN, class TQ>
__device__ __forceinline__ void stage(const TQ* const (&src)[kN], int64_t stride,
                                      const int32_t* nodes, int head_dim, bool vec,
                                      typename M::Elem* const (&dst)[kN],
                                      unsigned long long* bad) {
  constexpr int kPerThread = kRows * DP / kChunk / kThreads;
  static_assert(kRows * DP / kChunk % kThreads == 0);
  Raw8<TQ> raw[kN][kPerThread];
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const ChunkPos<DP> c(i);
    const int64_t node = nodes[c.r];
    const int64_t off = node >= 0 ? node * stride + c.d : 0;
    const int count = node >= 0 ? head_dim - c.d : 0;
#pragma unroll
    for (int n = 0; n < kN; ++n) raw[n][i] = load_raw(src[n] + off, count, vec);
  }
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const ChunkPos<DP> c(i);
#pragma unroll
    for (int n = 0; n < kN; ++n) {
      const bool sanitize = bad != nullptr && n == kN - 1;
      bool finite = true;
      if constexpr (std::is_same_v<TQ, bf16> && std::is_same_v<typename M::Elem, bf16>) {
        // Already bf16 (the bf16 precision's own storage): copy the bits;
        // a bf16 is non-finite when its 8 exponent bits are all ones.
        uint32_t w[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          w[k] = raw[n][i].w[k];
          const bool lo_bad = (w[k] & 0x00007f80u) == 0x00007f80u;
          const bool hi_bad = (w[k] & 0x7f800000u) == 0x7f800000u;
          finite = finite && !lo_bad && !hi_bad;
          if (sanitize) w[k] &= (lo_bad ? 0xffff0000u : 0xffffffffu) & (hi_bad ? 0x0000ffffu : 0xffffffffu);
        }
        *reinterpret_cast<uint4*>(dst[n] + c.r * (DP + M::kPad) + c.d) =
            make_uint4(w[0], w[1], w[2], w[3]);
      } else {
        float v[kChunk];
#pragma unroll
        for (int e = 0; e < kChunk; ++e) {
          const float x = M::round(raw_value(raw[n][i], e));
          finite = finite && isfinite(x);
          v[e] = sanitize && !isfinite(x) ? 0.f : x;
        }
        store8(dst[n] + c.r * (DP + M::kPad) + c.d, v);
      }
      if (sanitize && !finite) atomicOr(bad, 1ull << c.r);
    }
  }
}

// One tile's K and V. bf16 sources are loaded together (4 registers per
// chunk); float sources one tensor at a time (8 registers per chunk: both
// together would spill at DP = 128 under the 128-register cap).
template <int DP, class M, class TQ>
__device__ __forceinline__ void stage_kv(const TQ* k_src, const TQ* v_src, int64_t stride,
                                         const int32_t* nodes, int head_dim, bool vec,
                                         typename M::Elem* ks, typename M::Elem* vs,
                                         unsigned long long* bad) {
  if constexpr (sizeof(TQ) == 2) {
    const TQ* const src[2] = {k_src, v_src};
    typename M::Elem* const dst[2] = {ks, vs};
    stage<DP, M, 2>(src, stride, nodes, head_dim, vec, dst, bad);
  } else {
    const TQ* const k1[1] = {k_src};
    const TQ* const v1[1] = {v_src};
    typename M::Elem* const kd[1] = {ks};
    typename M::Elem* const vd[1] = {vs};
    stage<DP, M, 1>(k1, stride, nodes, head_dim, vec, kd, nullptr);
    stage<DP, M, 1>(v1, stride, nodes, head_dim, vec, vd, bad);
  }
}

template <int DP, class M, class TQ, class TO>
__global__ void __launch_bounds__(kThreads, M::kMinBlocks)
    attention_mma_kernel(const TQ* __restrict__ qkv, TO* __restrict__ out,
                         const int32_t* __restrict__ slots,
                         const int32_t* __restrict__ key_slots,
                         const int32_t* __restrict__ tile_offsets,
                         const int32_t* __restrict__ tile_key_block,
                         const int32_t* __restrict__ tile_mask,
                         const uint64_t* __restrict__ masks, int heads, int head_dim, bool vec,
                         float scale_log2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // bf16/tf32 WMMA need sm_80; the launcher never starts this kernel below that
#else
  using L = MmaLayout<DP, M>;
  using E = typename M::Elem;
  constexpr int kK = M::kK;
  constexpr int kLdE = L::kLdE, kLdS = L::kLdS, kLdP = L::kLdP;
  constexpr int kOBlocks = DP / 32;  // 16-column blocks of O per warp (half of DP)
  using FragA = typename M::FragA;
  using FragKt = typename M::FragKt;
  using FragV = typename M::FragV;
  using FragC = typename M::FragC;

  extern __shared__ __align__(128) unsigned char smem[];
  E* qs = reinterpret_cast<E*>(smem + L::kOffQ);
  E* ks = reinterpret_cast<E*>(smem + L::kOffK);
  E* vs = reinterpret_cast<E*>(smem + L::kOffV);
  float* ss = reinterpret_cast<float*>(smem + L::kOffS);
  E* ps = reinterpret_cast<E*>(smem + L::kOffP);
  float* row_corr = reinterpret_cast<float*>(smem + L::kOffCorr);
  float* row_inv = reinterpret_cast<float*>(smem + L::kOffInv);
  auto* bad_keys = reinterpret_cast<unsigned long long*>(smem + L::kOffBad);

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  float* scratch = reinterpret_cast<float*>(smem + L::kOffScratch) + warp * 256;
  // Warp roles (steps 2 and 4): 16 query rows from wrow; column half whalf.
  const int wrow = warp / 2 * 16, whalf = warp % 2;
  // Softmax role (step 3): row srow, columns kLanesPerRow * i + squad.
  const int srow = tid / kLanesPerRow, squad = tid % kLanesPerRow;

  const int qb = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
  const int64_t hd = int64_t{heads} * head_dim, stride = 3 * hd;
  const int32_t* qslots = slots + int64_t{qb} * kRows;
  const TQ* head_base = qkv + int64_t{h} * head_dim;  // q of node 0, head h

  {
    const TQ* const q_src[1] = {head_base};
    E* const q_dst[1] = {qs};
    stage<DP, M, 1>(q_src, stride, qslots, head_dim, vec, q_dst, nullptr);
  }
  if (tid == 0) *bad_keys = 0ull;
  // (Q and bad_keys are ordered before their first use by barrier (1).)

  float m = -INFINITY, l = 0.f;  // this row's running max (log2 units) and weight sum
  bool row_nan = false;          // a neighbour's value was non-finite
  FragC acc[kOBlocks];
#pragma unroll
  for (int j = 0; j < kOBlocks; ++j) wmma::fill_fragment(acc[j], 0.f);

  const int t_end = tile_offsets[qb + 1];
  for (int t = tile_offsets[qb]; t < t_end; ++t) {
    const int mask_id = tile_mask[t];
    // Mask 0 is the shared empty mask (attention_tiles.h): nothing to add.
    // The same t for every thread, so the skip is uniform over the block.
    if (mask_id == 0) continue;
    const int32_t* kslots = key_slots + int64_t{tile_key_block[t]} * kRows;

    // The keys of this tile that any of the warp's 16 rows attends to (OR of
    // their masks; the same in every lane). 16-key blocks of S and of P V
    // without any are skipped: those scores are never read and those
    // weights are 0 (a quarter of the 16x16 blocks of the 0.25-degree mesh's
    // sparse tiles). Branches on it are warp-uniform.
    const uint64_t row_bits = masks[int64_t{mask_id} * kRows + wrow + lane % 16];
    uint32_t keys_lo = static_cast<uint32_t>(row_bits);
    uint32_t keys_hi = static_cast<uint32_t>(row_bits >> 32);
#pragma unroll
    for (int o = 1; o < 16; o *= 2) {  // within each half-warp: lanes 0-15 and 16-31 agree
      keys_lo |= __shfl_xor_sync(kFullMask, keys_lo, o);
      keys_hi |= __shfl_xor_sync(kFullMask, keys_hi, o);
    }
    const uint64_t warp_keys = uint64_t{keys_hi} << 32 | keys_lo;

    __syncthreads();  // (1) the previous tile's K, V, P and corrections are no longer read
    stage_kv<DP, M>(head_base + hd, head_base + 2 * hd, stride, kslots, head_dim, vec, ks, vs,
                    bad_keys);
    __syncthreads();  // (2) K, V, bad_keys (and Q) are in place

    {  // 2. S = Q K^T, rows [wrow, wrow + 16), key columns [32 * whalf, 32 * whalf + 32)
      bool live[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) live[i] = (warp_keys >> (32 * whalf + 16 * i)) & 0xffffu;
      if (live[0] || live[1]) {
        FragC c[2];
        wmma::fill_fragment(c[0], 0.f);
        wmma::fill_fragment(c[1], 0.f);
#pragma unroll
        for (int k0 = 0; k0 < DP; k0 += kK) {
          FragA a;
          wmma_shared::load(a, qs + wrow * kLdE + k0, kLdE);
#pragma unroll
          for (int i = 0; i < 2; ++i) {
            if (!live[i]) continue;
            // B(k, n) = K[key n][dim k]: K's rows are B's columns (col_major).
            FragKt b;
            wmma_shared::load(b, ks + (32 * whalf + 16 * i) * kLdE + k0, kLdE);
            wmma::mma_sync(c[i], a, b, c[i]);
          }
        }
#pragma unroll
        for (int i = 0; i < 2; ++i)
          if (live[i]) wmma_shared::store(ss + wrow * kLdS + 32 * whalf + 16 * i, c[i], kLdS);
      }
    }
    __syncthreads();  // (3) S is complete

    {  // 3. online softmax of row srow over this tile
      const uint64_t bits = masks[int64_t{mask_id} * kRows + srow];
      float s[kColsPerLane];
      float tmax = -INFINITY;
#pragma unroll
      for (int i = 0; i < kColsPerLane; ++i) {
        const int c = kLanesPerRow * i + squad;
        s[i] = (bits >> c) & 1u ? ss[srow * kLdS + c] * scale_log2 : -INFINITY;
        tmax = fmaxf(tmax, s[i]);  // fmaxf skips NaN: a NaN score makes its weight NaN below
      }
      // The 4 lanes of a row are adjacent lanes of one warp; all take part.
      tmax = fmaxf(tmax, __shfl_xor_sync(kFullMask, tmax, 1));
      tmax = fmaxf(tmax, __shfl_xor_sync(kFullMask, tmax, 2));
      float corr = 1.f;
      if (bits != 0u) {
        if (m == -INFINITY) {
          m = tmax;  // first neighbours of this row: O and l are still exactly 0
        } else if (tmax > m + kMaxSlack) {
          corr = exp2f(m - tmax);
          m = tmax;
        }
        if (bits & *bad_keys) row_nan = true;
      }
      float lsum = 0.f;
#pragma unroll
      for (int i = 0; i < kColsPerLane; ++i) {
        const int c = kLanesPerRow * i + squad;
        // Masked: exactly 0, whatever S holds there (NaN from a NaN key included).
        const float p = (bits >> c) & 1u ? M::round(exp2f(s[i] - m)) : 0.f;
        lsum += p;
        ps[srow * kLdP + c] = M::to_elem(p);
      }
      lsum += __shfl_xor_sync(kFullMask, lsum, 1);
      lsum += __shfl_xor_sync(kFullMask, lsum, 2);
      l = l * corr + lsum;
      if (squad == 0) row_corr[srow] = corr;
    }
    __syncthreads();  // (4) P and the corrections are complete
    if (tid == 0) *bad_keys = 0ull;  // last read above; set again after the next (1)

    {  // 4. O = O * corr + P V for this warp's rows and columns
      const bool moved = __any_sync(kFullMask, lane < 16 && row_corr[wrow + lane] != 1.f);
      if (moved) {  // warp-uniform
#pragma unroll
        for (int j = 0; j < kOBlocks; ++j) {
          wmma_shared::store(scratch, acc[j], 16);
          __syncwarp();
          for (int e = lane; e < 256; e += 32) scratch[e] *= row_corr[wrow + e / 16];
          __syncwarp();
          wmma_shared::load(acc[j], scratch, 16);
          __syncwarp();  // every lane has read the scratch before it is written again
        }
      }
#pragma unroll
      for (int k0 = 0; k0 < kRows; k0 += kK) {
        if (((warp_keys >> k0) & ((uint64_t{1} << kK) - 1)) == 0) continue;  // all weights 0
        FragA a;
        wmma_shared::load(a, ps + wrow * kLdP + k0, kLdP);
#pragma unroll
        for (int j = 0; j < kOBlocks; ++j) {
          // B(k, n) = V[key k][dim n]: row_major straight from V's rows.
          FragV b;
          wmma_shared::load(b, vs + k0 * kLdE + (whalf * kOBlocks + j) * 16, kLdE);
          wmma::mma_sync(acc[j], a, b, acc[j]);
        }
      }
    }
  }

  // No neighbours at all: l = 0 and O = 0 -> zeros, like the CPU. A NaN l or
  // a flagged non-finite value -> NaN, like the CPU.
  if (squad == 0) row_inv[srow] = row_nan ? NAN : (l == 0.f ? 0.f : 1.f / l);
  __syncthreads();  // (5) every row's inverse is in place

  // Each lane writes 8 columns of one of the fragment's 16 rows.
  const int orow = lane / 2, ocol = lane % 2 * 8;
  const int64_t node = qslots[wrow + orow];
  const float inv = row_inv[wrow + orow];
#pragma unroll
  for (int j = 0; j < kOBlocks; ++j) {
    wmma_shared::store(scratch, acc[j], 16);
    __syncwarp();
    if (node >= 0) {
      TO* dst = out + node * hd + int64_t{h} * head_dim;
      const int d0 = (whalf * kOBlocks + j) * 16 + ocol;
#pragma unroll
      for (int i = 0; i < kChunk; ++i)
        if (d0 + i < head_dim) dst[d0 + i] = from_f32<TO>(scratch[orow * 16 + ocol + i] * inv);
    }
    __syncwarp();  // the scratch is rewritten by the next fragment
  }
#endif
}

// Launches one instantiation if the current device can run it.
template <int DP, class M, class TQ, class TO>
bool launch_mma(const AttentionDeviceTiles& t, const TQ* qkv, TO* out, cudaStream_t stream) {
  constexpr size_t smem = MmaLayout<DP, M>::kBytes;
  int device = 0, major = 0, optin = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (major < 8 || smem > static_cast<size_t>(optin)) return false;
  auto* kernel = &attention_mma_kernel<DP, M, TQ, TO>;
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(smem)));
  // 16-byte staging loads: with head_dim % 8 == 0 every row segment
  // (row stride 3*H*D, offsets h*D + d, d % 8 == 0) starts 8-element aligned.
  const bool vec = t.head_dim % kChunk == 0 && is_aligned(qkv, 16);
  const dim3 grid(static_cast<unsigned>(t.q_blocks), static_cast<unsigned>(t.heads));
  // Scores in log2 units: exp(x / sqrt(D)) = exp2(x * log2(e) / sqrt(D)).
  const auto scale_log2 =
      static_cast<float>(1.4426950408889634 / std::sqrt(static_cast<double>(t.head_dim)));
  kernel<<<grid, kThreads, smem, stream>>>(qkv, out, t.slots, t.key_slots, t.tile_offsets,
                                           t.tile_key_block, t.tile_mask, t.masks, t.heads,
                                           t.head_dim, vec, scale_log2);
  return true;
}

template <class M, class TQ, class TO>
bool launch_padded_mma(const AttentionDeviceTiles& t, const TQ* qkv, TO* out,
                       cudaStream_t stream) {
  if (t.head_dim <= 32) return launch_mma<32, M>(t, qkv, out, stream);
  if (t.head_dim <= 64) return launch_mma<64, M>(t, qkv, out, stream);
  return launch_mma<128, M>(t, qkv, out, stream);
}

}  // namespace

bool attention_mma_launch(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv, void* out,
                          DType t_out, AttentionMath math, cudaStream_t stream) {
  if (math != AttentionMath::tf32_mma && math != AttentionMath::bf16_mma)
    throw std::invalid_argument("attention_mma_launch: math must be tf32_mma or bf16_mma");
  bool launched = false;
  dispatch_float_type(t_qkv, "attention", [&](auto qt) {
    dispatch_float_type(t_out, "attention", [&](auto ot) {
      using TQ = decltype(qt);
      using TO = decltype(ot);
      const auto* qp = static_cast<const TQ*>(qkv);
      auto* op = static_cast<TO*>(out);
      launched = math == AttentionMath::tf32_mma
                     ? launch_padded_mma<MmaTf32>(t, qp, op, stream)
                     : launch_padded_mma<MmaBf16>(t, qp, op, stream);
    });
  });
  return launched;
}

}  // namespace gencast::cuda
