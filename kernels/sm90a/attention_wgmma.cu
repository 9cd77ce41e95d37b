// Block-sparse attention for the bf16 precision on Hopper's warpgroup MMA
// (wgmma, sm_90a): the register-resident flash kernel (attention_flash.cu)
// with its mma.sync products replaced by warpgroup MMAs that read K and V
// straight from shared memory. Same function, same rounding (q, k, v and the
// softmax weights in bf16, scores and sums in float32, lazy running max),
// same tiles, masks and NaN rules; only the order of the float32 sums inside
// an MMA may differ.
//
// Why: the mma.sync kernel is issue-bound (BENCHMARKS "Fast path, round 4"):
// each of its 4 warps reads the whole K and V tile from shared memory through
// ldmatrix for its own 16 rows and issues 128 MMAs per tile. Here the
// block's 4 warps form one warpgroup: S = Q K^T is 8 wgmma m64n64k16 (one per
// 16 head dims) and O += P V is 4 wgmma m64nDPk16 (one per 16 keys), each
// reading its B operand once for all 64 rows, with no ldmatrix of K or V.
// Q (A of S) and P (A of P V) stay in registers in the m16n8k16 fragment
// layout, which is also wgmma's, so the softmax code is the flash kernel's.
//
// Shared memory: two stages of K and V, each tile 64 rows x DP bf16 in
// DP / 64 column blocks of 64 x 128 bytes with the 128-byte swizzle (16-byte
// chunk c of row r at chunk position c ^ (r % 8)), which is what the wgmma
// descriptors read: K as a K-major B (keys x head dims), V as an MN-major B
// (keys x head dims read transposed). V has one more column block, constant:
// a column of ones, so that P V also yields each row's weight sum. Q sits
// after them with padded rows for ldmatrix, then two stages of a key group's slot
// table (the K/V gathers read a tile's node indices from shared memory, copied
// an iteration before the gathers: waiting on those global loads right before
// the gathers was the kernel's largest single stall, BENCHMARKS round 9). 98.5 KiB at DP = 128:
// two blocks per SM, as the flash kernel.
//
// Two differences in rounding from the flash kernel, both within float32
// noise: the row sums are the tensor cores' float32 sums of the same bf16
// weights (another order), and the scale goes into the exponent's FMA,
// exp2(s * scale - m) rounded once (the flash kernel rounds s * scale first).
//
// Requirements (checked by the launcher, else the flash kernel runs): a
// compute capability 9.0 device with this kernel's sm_90a image loaded, bf16
// qkv 16-byte aligned, head_dim % 8 == 0 and > 32 (DP = 64 or 128).
#include "attention.cuh"
#include "attention_flash_common.cuh"
#include "attention_tiles.h"

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>

#include "cuda_check.cuh"
#include "launch_util.cuh"
#include "mma_ptx.cuh"
#include "sm90a/wgmma_ptx.cuh"

namespace gencast::cuda {
namespace {

using flash::kRows;  // query rows per block = keys per tile
using flash::kThreads;
// 16-byte copies per slot table (64 int32), one per thread.
inline constexpr int kSlotCopies = kRows * static_cast<int>(sizeof(int32_t)) / 16;
static_assert(kSlotCopies <= kThreads);

std::atomic<bool> g_wgmma_enabled{true};

template <int DP>
struct WgmmaLayout {
  static constexpr int kColBlocks = DP / 64;                  // 128-byte column blocks
  static constexpr int kBlockBytes = kRows * 128;             // one 64 x 64 bf16 block
  static constexpr int kKBytes = kColBlocks * kBlockBytes;     // one swizzled K tile
  // V has one more column block: column DP is 1 in every row (the rest 0),
  // so P V's column DP is each row's sum of its bf16 weights, computed by
  // the tensor cores instead of 32 unpacks and adds per thread and tile.
  static constexpr int kVBytes = kKBytes + kBlockBytes;
  static constexpr int kStageBytes = kKBytes + kVBytes;
  static constexpr int kQLd = DP + 8;  // Q rows padded for ldmatrix
  static constexpr int kQBytes = kRows * kQLd * static_cast<int>(sizeof(bf16));
  // Two stages of a key group's slot table (its 64 node indices), copied an
  // iteration before the K/V gathers that read them from shared memory.
  static constexpr int kSlotBytes = kRows * static_cast<int>(sizeof(int32_t));
  static constexpr size_t kBytes =
      1024 /* alignment slack */ + 2 * size_t{kStageBytes} + kQBytes + 2 * size_t{kSlotBytes};
};

// Byte offset of 16-byte chunk c (elements 8c..8c+7) of row r in a swizzled tile.
__device__ __forceinline__ uint32_t swizzled_chunk(int r, int c) {
  return static_cast<uint32_t>((c / 8) * (kRows * 128) + r * 128 + ((c % 8) ^ (r % 8)) * 16);
}

// The operand type's 1.0 (the row-sum column).
template <class TI>
inline constexpr uint32_t kOneBits = std::is_same_v<TI, __half> ? 0x3c00u : 0x3f80u;

// TI: the operand type, bf16 (the bf16 precision) or __half (the tf32
// precision's route, attention_tf32_as_f16_launch).
template <int DP, class TI, class TO>
__global__ void __launch_bounds__(kThreads, 2)
    attention_wgmma_kernel(const TI* __restrict__ qkv, TO* __restrict__ out,
                           const int32_t* __restrict__ slots,
                           const int32_t* __restrict__ key_slots,
                           const int32_t* __restrict__ tile_offsets,
                           const int32_t* __restrict__ tile_key_block,
                           const int32_t* __restrict__ tile_mask,
                           const uint64_t* __restrict__ masks,
                           const uint64_t* __restrict__ bad_words, int heads, int head_dim,
                           float scale_log2, const int32_t* __restrict__ gate,
                           int32_t gate_open) {
#if !defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __trap();  // built for sm_90a only; the launcher checks that this image runs here
#else
  if (flash::gate_closed(gate, gate_open)) return;
  using Layout = WgmmaLayout<DP>;
  constexpr int kQLd = Layout::kQLd;
  constexpr int kKTile = Layout::kKBytes;
  constexpr int kStage = Layout::kStageBytes;
  constexpr int kKSteps = DP / 16;    // k16 steps of Q K^T
  constexpr int kOTiles = DP / 8 + 1;  // n8 tiles of O, the last one holding the row sums
  constexpr int kChunks = DP / 8;     // 16-byte chunks per row of q, k, v

  extern __shared__ unsigned char smem_raw[];
  // Swizzled tiles must start 1024-byte aligned (wgmma_ptx.cuh).
  unsigned char* const smem = smem_raw + (1024u - ptx::smem_addr(smem_raw) % 1024u) % 1024u;
  unsigned char* const kv = smem;  // stage s: K at kv + s * kStage, V right after
  TI* const qs = reinterpret_cast<TI*>(smem + 2 * kStage);
  int32_t* const slot_stages = reinterpret_cast<int32_t*>(smem + 2 * kStage + Layout::kQBytes);
  const uint32_t kv_addr = ptx::smem_addr(kv);

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, tq = lane % 4;  // fragment row and column pair
  const int qb = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
  const int64_t hd = int64_t{heads} * head_dim, stride = 3 * hd;
  const TI* const q_base = qkv + int64_t{h} * head_dim;
  const int32_t* const qslots = slots + int64_t{qb} * kRows;
  const int row_lo = warp * 16 + g;  // this thread's two query rows: row_lo, row_lo + 8

  const int t_end = tile_offsets[qb + 1];
  const flash::TileReader reader{tile_key_block, tile_mask, masks, bad_words,
                                 t_end,          heads,     h,     row_lo};
  using flash::TileBits;
  using flash::TileIndex;
  const auto tile_index = [&](int t) { return reader.index(t); };
  const auto tile_bits = [&](int t, TileIndex i) { return reader.bits(t, i); };
  // K and V rows of a key tile into the swizzled tiles of `stage` (padding
  // slots and columns >= head_dim zero-filled); each row's node and address
  // are computed once for both. `kslots`: the tile's slot table (shared
  // memory, or global for the first tile).
  const auto issue_kv = [&](const int32_t* kslots, int stage) {
    unsigned char* const k_dst = kv + stage * kStage;
    const TI* const k_base = q_base + hd;
#pragma unroll
    for (int n = 0; n < kRows * kChunks / kThreads; ++n) {
      const int idx = tid + n * kThreads;
      const int r = idx / kChunks, c = idx % kChunks;
      const int64_t node = kslots[r];
      const bool live = node >= 0 && 8 * c < head_dim;
      const TI* src = live ? k_base + node * stride + 8 * c : k_base;
      const uint32_t off = swizzled_chunk(r, c);
      ptx::cp_async_16(k_dst + off, src, live ? 16 : 0);
      ptx::cp_async_16(k_dst + kKTile + off, src + hd, live ? 16 : 0);
    }
  };

#pragma unroll
  for (int n = 0; n < kRows * kChunks / kThreads; ++n) {
    const int idx = tid + n * kThreads;
    const int r = idx / kChunks, c = idx % kChunks;
    const int64_t node = qslots[r];
    const bool live = node >= 0 && 8 * c < head_dim;
    ptx::cp_async_16(qs + r * kQLd + 8 * c, live ? q_base + node * stride + 8 * c : q_base,
                     live ? 16 : 0);
  }
  // The row-sum column block of both stages' V (chunks DP/8.. of each row;
  // the copies never write there): 1 in its first column, 0 elsewhere.
  for (int idx = tid; idx < 2 * kRows * 8; idx += kThreads) {
    const int stage = idx / (kRows * 8), r = idx / 8 % kRows, c = kChunks + idx % 8;
    const uint4 chunk = c == kChunks ? make_uint4(kOneBits<TI>, 0, 0, 0) : make_uint4(0, 0, 0, 0);
    *reinterpret_cast<uint4*>(kv + stage * kStage + kKTile + swizzled_chunk(r, c)) = chunk;
  }
  // A key group's slot table into slot stage `st` (16 threads, 16 bytes each).
  const auto issue_slots = [&](TileIndex i, int st) {
    if (tid < kSlotCopies)
      ptx::cp_async_16(slot_stages + st * kRows + 4 * tid,
                       key_slots + int64_t{i.key_block} * kRows + 4 * tid, 16);
  };
  wgmma::fence_proxy_async();  // read by wgmma after the barrier below
  // Pipeline: iteration t computes tile t while its copy group brings K/V of
  // tile t + 1 (gathered through the slot table copied one iteration before)
  // and the slot table of tile t + 2; the group is waited for at the end of
  // the iteration. The prologue's group: Q, K/V of the first tile (its slots
  // read from global memory once), the second tile's slots.
  int t = tile_offsets[qb];
  const TileIndex first = tile_index(t);
  TileIndex i1 = tile_index(t + 1);  // the tile after t; i2: the one after that
  if (t < t_end) issue_kv(key_slots + int64_t{first.key_block} * kRows, 0);
  if (t + 1 < t_end) issue_slots(i1, 0);
  ptx::cp_async_commit();
  TileBits bits = tile_bits(t, first);
  TileIndex i2 = tile_index(t + 2);
  ptx::cp_async_wait<0>();
  wgmma::fence_proxy_async();
  __syncthreads();

  uint32_t qf[kKSteps][4];  // the warp's 16 query rows as A fragments
#pragma unroll
  for (int ks = 0; ks < kKSteps; ++ks)
    ptx::ldmatrix_x4(qf[ks], qs + (warp * 16 + lane % 16) * kQLd + ks * 16 + lane / 16 * 8);

  float o[kOTiles][4];
#pragma unroll
  for (int j = 0; j < kOTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float m_lo = -INFINITY, m_hi = -INFINITY;  // running max per row (log2 units)
  bool nan_lo = false, nan_hi = false;       // a neighbour's value is non-finite
  int stage = 0, slot_stage = 0;  // K/V of tile t; the slot table of tile t + 1

  while (t < t_end) {  // block-uniform: every thread runs every wgmma below
    const int tn = t + 1;
    if (tn < t_end) issue_kv(slot_stages + slot_stage * kRows, stage ^ 1);
    if (tn + 1 < t_end) issue_slots(i2, slot_stage ^ 1);
    ptx::cp_async_commit();
    const TileBits next_bits = tile_bits(tn, i1);
    i1 = i2;
    i2 = tile_index(tn + 2);

    const uint32_t k_addr = kv_addr + stage * kStage, v_addr = k_addr + kKTile;
    if (bits.bad != 0) {  // the same word in every thread: uniform
      unsigned char* const vs = kv + stage * kStage + kKTile;
      for (int idx = tid; idx < kRows * kChunks; idx += kThreads) {
        const int r = idx / kChunks, c = idx % kChunks;
        if ((bits.bad >> r) & 1u)
          *reinterpret_cast<uint4*>(vs + swizzled_chunk(r, c)) = make_uint4(0, 0, 0, 0);
      }
      nan_lo = nan_lo || (bits.lo & bits.bad) != 0;
      nan_hi = nan_hi || (bits.hi & bits.bad) != 0;
      wgmma::fence_proxy_async();
      __syncthreads();
    }

    // S = Q K^T: B(k = head dim, n = key) = K[key][dim], K-major; the k step
    // ks starts 32 bytes into column block ks / 4.
    float s[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
    wgmma::fence_operands(s);
    wgmma::wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kKSteps; ++ks) {
      const uint64_t desc = wgmma::smem_desc_128b(
          k_addr + (ks / 4) * Layout::kBlockBytes + (ks % 4) * 32, 16, 1024);
      wgmma::wgmma_m64n64k16_rs<0, TI>(s, qf[ks], desc, ks > 0 ? 1 : 0);
    }
    wgmma::wgmma_commit();
    wgmma::wgmma_wait<0>();
    wgmma::fence_operands(s);

    // Online softmax: rows g (s[.][0..1], bits.lo) and g+8 (s[.][2..3], bits.hi).
    // The scores stay unscaled; the scale goes into the exponent's FMA. The
    // rescale of O by corr_* covers the row sums in its last n8 tile.
    float corr_lo, corr_hi;
    flash::mask_scores_and_move_max<false>(s, bits.lo, bits.hi, scale_log2, tq, m_lo, m_hi, o,
                                           corr_lo, corr_hi);
    const float mu_lo = -flash::weight_origin(m_lo), mu_hi = -flash::weight_origin(m_hi);
    uint32_t p[8][2];  // weights as TI pairs: [j][0] row g, [j][1] row g+8
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      p[j][0] = pack_x2<TI>(ptx::exp2_ftz(fmaf(s[j][0], scale_log2, mu_lo)),
                                 ptx::exp2_ftz(fmaf(s[j][1], scale_log2, mu_lo)));
      p[j][1] = pack_x2<TI>(ptx::exp2_ftz(fmaf(s[j][2], scale_log2, mu_hi)),
                                 ptx::exp2_ftz(fmaf(s[j][3], scale_log2, mu_hi)));
    }

    // O += P V: B(k = key, n = head dim) = V[key][dim], MN-major; the k step
    // kp starts at key row 16 kp; column blocks are kBlockBytes apart. N is
    // DP + 8: the head dims and the row-sum column (its 7 neighbours are 0).
    wgmma::fence_operands(o);
    wgmma::wgmma_fence();
#pragma unroll
    for (int kp = 0; kp < 4; ++kp) {
      const uint32_t a[4] = {p[2 * kp][0], p[2 * kp][1], p[2 * kp + 1][0], p[2 * kp + 1][1]};
      const uint64_t desc =
          wgmma::smem_desc_128b(v_addr + kp * 16 * 128, Layout::kBlockBytes, 1024);
      if constexpr (DP == 128)
        wgmma::wgmma_m64n136k16_rs<1, TI>(o, a, desc, 1);
      else
        wgmma::wgmma_m64n72k16_rs<1, TI>(o, a, desc, 1);
    }
    wgmma::wgmma_commit();
    wgmma::wgmma_wait<0>();  // V of this stage is read before the stage is refilled
    wgmma::fence_operands(o);
    ptx::cp_async_wait<0>();     // K/V of tile t + 1, the slots of tile t + 2
    wgmma::fence_proxy_async();  // cp.async wrote what the wgmmas read
    __syncthreads();             // ... for every thread; this tile's stages are free
    t = tn;
    bits = next_bits;
    stage ^= 1;
    slot_stage ^= 1;
  }
  ptx::cp_async_wait<0>();
  // The row sums are column DP of O: held by the quad's first lane (the
  // store sums l over the quad). store_output_rows stores only columns
  // below head_dim.
  const float l_lo = tq == 0 ? o[kOTiles - 1][0] : 0.f, l_hi = tq == 0 ? o[kOTiles - 1][2] : 0.f;
  flash::store_output_rows(o, l_lo, l_hi, nan_lo, nan_hi, qslots, row_lo, out, int64_t{hd}, h,
                           head_dim, tq);
#endif
}

// Whether the current device runs this file's sm_90a image: compute
// capability 9.0 exactly (sm_90a code runs nowhere else) and the image
// loads. Asked once per device.
bool device_runs_wgmma() {
  static std::array<std::atomic<int>, 64> known{};  // 0 unknown, 1 yes, 2 no
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  if (device < 0 || device >= static_cast<int>(known.size())) return false;
  int state = known[static_cast<size_t>(device)].load();
  if (state == 0) {
    int major = 0, minor = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    bool runs = major == 9 && minor == 0;
    if (runs) {
      cudaFuncAttributes attributes{};
      runs = cudaFuncGetAttributes(&attributes, attention_wgmma_kernel<128, bf16, bf16>) ==
             cudaSuccess;
      (void)cudaGetLastError();  // a missing image is an answer, not an error
    }
    state = runs ? 1 : 2;
    known[static_cast<size_t>(device)].store(state);
  }
  return state == 1;
}

}  // namespace

void set_attention_wgmma(bool enabled) { g_wgmma_enabled.store(enabled); }

bool attention_wgmma_available() { return device_runs_wgmma(); }

bool attention_wgmma_runs(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv) {
  if (!g_wgmma_enabled.load() || (t_qkv != DType::bf16 && t_qkv != DType::f16) ||
      t.head_dim % 8 != 0 || t.head_dim <= 32 || !is_aligned(qkv, 16) || t.bad_words == nullptr ||
      t.bad_nodes == nullptr)
    return false;
  const size_t smem = flash::padded_head_dim(t.head_dim) == 64 ? WgmmaLayout<64>::kBytes
                                                              : WgmmaLayout<128>::kBytes;
  return device_runs_wgmma() && flash::device_runs_flash(smem);
}

bool attention_wgmma_launch(const AttentionDeviceTiles& t, const void* qkv, DType t_qkv,
                            void* out, DType t_out, cudaStream_t stream) {
  if (!attention_wgmma_runs(t, qkv, t_qkv)) return false;
  const int dp = flash::padded_head_dim(t.head_dim);
  const auto launch = [&](auto operand) {
    using TI = decltype(operand);
    const auto* qp = static_cast<const TI*>(qkv);
    dispatch_float_type(t_out, "attention", [&](auto ot) {
      using TO = decltype(ot);
      if (dp == 64)
        flash::launch_flash_kernel(&attention_wgmma_kernel<64, TI, TO>, WgmmaLayout<64>::kBytes,
                                   kThreads, t, qp, static_cast<TO*>(out), stream);
      else
        flash::launch_flash_kernel(&attention_wgmma_kernel<128, TI, TO>, WgmmaLayout<128>::kBytes,
                                   kThreads, t, qp, static_cast<TO*>(out), stream);
    });
  };
  if (t_qkv == DType::f16)
    launch(__half{});
  else
    launch(bf16{});
  return true;
}

}  // namespace gencast::cuda
