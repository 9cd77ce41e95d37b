// The fused edge MLP (see edge_mlp.cuh): gather -> GEMM -> swish -> GEMM ->
// LayerNorm + conditioning -> segment sum, per tile of whole segments, with
// the 64 x C per-edge latents in registers and shared memory only.
//
// Launch: a persistent grid (at most one CTA per SM; the CTA takes tiles
// blockIdx.x, + gridDim.x, ...), C / 64 warps (one for C = 32); warp w owns
// the output columns [64w, 64w + 64) of all 64 tile rows, so its float32
// accumulators are acc[4 m16 tiles][8 n8 tiles][4] = 128 registers at C = 512.
// Per tile:
//   1. acc = b0 + sender_proj[s_e] + receiver_proj[r_e] (gathered into the
//      accumulators: the bias and both projections are added in float32);
//   2. acc += X @ w0, X = the tile's rows of x in shared memory (xs);
//   3. swish, rounded to bf16 into shared memory (ys): the second GEMM's A;
//   4. acc = b1 + Y @ w1;
//   5. LayerNorm statistics per row (two-pass float32, like layernorm.cu,
//      reduced over the quad and then over the warps through shared memory),
//      normalize and condition in registers;
//   6. each warp stages its columns 16 at a time as float32 in ys and sums
//      the rows of every segment of the tile into y.
// The weights stream through a STAGES-deep cp.async ring of KS-row k slices
// (one barrier per slice), continuing across the two GEMMs and across tiles,
// so the next tile's first slices load during this tile's epilogue. The next
// tile's x rows load into xs during this tile's second GEMM (xs is free once
// the first GEMM is done). Two shapes (edge_mlp.cuh's variant knob): 16-row
// slices 5 deep with rows padded by 16 bytes (the 8 rows of every ldmatrix
// phase hit distinct banks), 211 KiB of shared memory at C = 512; or the
// default, 32-row slices 3 deep with the 16-byte chunks of each row
// XOR-swizzled by row % 8 instead, 224 KiB. One CTA per SM either way.
//
// Measured on an H200 (BENCHMARKS.md, round 3): correct, but 2.7x slower than
// the composed ops -- issue- and latency-bound (8 warps per SM, serial
// per-tile epilogues), not bandwidth-bound; the denoiser keeps it off by
// default (DenoiserOptions::fused_edges).
#include "edge_mlp.cuh"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include "backend/edge_tiles.h"
#include "cuda_check.cuh"
#include "device_math.cuh"
#include "launch_util.cuh"
#include "mma_ptx.cuh"

namespace gencast::cuda {
namespace {

constexpr int kTileRows = static_cast<int>(kEdgeTileRows);
constexpr unsigned kFullMask = 0xffffffffu;
constexpr float kEps = 1e-5f;  // as layernorm.cu
constexpr int kStageLd = 24;   // floats per epilogue staging row: 16 + 8 (conflict-free float2 stores)

static_assert(kTileRows == 64, "the fragment layout assumes 4 m16 tiles per warp");

std::atomic<int> g_variant{0};

// The kernel's shape: C columns; weight slices of KS rows (KS / 16 mma k
// steps per barrier), STAGES of them in the ring; SWZ: rows of exactly C
// bf16 with the 16-byte chunks of row r XOR-swizzled by r % 8 (conflict-free
// ldmatrix without padding, C >= 64), else rows padded by 16 bytes.
template <int C, int KS, int STAGES, bool SWZ>
struct EdgeMlpShape {
  static constexpr int kWarpCols = C >= 64 ? 64 : C;
  static constexpr int kNT = kWarpCols / 8;  // n8 tiles per warp
  static constexpr int kWarps = C / kWarpCols;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kLd = SWZ ? C : C + 8;  // bf16 elements per shared row
  static constexpr int kSlices = C / KS;       // weight slices (barriers) per GEMM
  static constexpr int kSub = KS / 16;         // mma k16 steps per slice
  static constexpr int kChunks = C / 8;        // 16-byte chunks per row
  static constexpr size_t kRowsBytes = size_t{kTileRows} * kLd * 2;
  static constexpr size_t kStagingFloats = size_t{kWarps} * kTileRows * kStageLd;
  static constexpr size_t kStatsFloats = size_t{2} * kWarps * kTileRows;
  static constexpr size_t kEpilogueBytes = (kStagingFloats + kStatsFloats) * 4;
  static constexpr size_t kXBytes = kRowsBytes;
  // ys: the second GEMM's A, then the epilogue's staging rows and statistics.
  static constexpr size_t kYBytes = kRowsBytes > kEpilogueBytes ? kRowsBytes : kEpilogueBytes;
  static constexpr size_t kSliceElems = size_t{KS} * kLd;
  static constexpr size_t kWBytes = STAGES * kSliceElems * 2;
  static constexpr size_t kBytes = kXBytes + kYBytes + kWBytes;
  static_assert(C % 32 == 0 && kNT % 2 == 0 && C / kWarpCols * kWarpCols == C);
  static_assert(KS % 16 == 0 && C % KS == 0 && STAGES >= 2);
  static_assert(!SWZ || C >= 64, "the swizzle permutes 8 chunks");

  // Element offset of (row, col) in a shared row block; col even, a pair
  // never straddles a 16-byte chunk.
  __device__ static __forceinline__ int at(int row, int col) {
    if constexpr (SWZ)
      return row * kLd + ((((col >> 3) ^ (row & 7))) << 3) + (col & 7);
    else
      return row * kLd + col;
  }
};

struct Params {
  const bf16* x;
  int64_t rows_x;
  const bf16* w0;
  const float* b0;
  const bf16* sp;
  int64_t rows_s;
  const int32_t* senders;
  const bf16* rp;
  int64_t rows_r;
  const int32_t* receivers;
  const bf16* w1;
  const float* b1;
  const float* cond;
  const int32_t* offsets;
  const int32_t* tiles;
  int64_t n_tiles;
  void* y;
  int64_t segments;
};

// The edge rows and segments of tile t; ok = false for a malformed plan
// (then n = 0 and the tile's segments get NaN).
struct TileInfo {
  int64_t e_begin = 0, s0 = 0, s1 = 0;
  int n = 0;
  bool ok = false;
};

__device__ __forceinline__ TileInfo tile_info(const Params& p, int64_t t) {
  TileInfo ti;
  const int64_t base = p.offsets[0];
  int64_t s0 = p.tiles[t], s1 = p.tiles[t + 1];
  // Writes stay inside [0, segments) whatever the plan says.
  s1 = s1 < 0 ? 0 : (s1 > p.segments ? p.segments : s1);
  s0 = s0 < 0 ? 0 : (s0 > s1 ? s1 : s0);
  ti.s0 = s0;
  ti.s1 = s1;
  const int64_t e0 = p.offsets[s0] - base, e1 = p.offsets[s1] - base;
  ti.ok = p.tiles[t] == s0 && p.tiles[t + 1] == s1 && 0 <= e0 && e0 <= e1 && e1 <= p.rows_x &&
          e1 - e0 <= kTileRows;
  if (ti.ok) {
    ti.e_begin = e0;
    ti.n = static_cast<int>(e1 - e0);
  }
  return ti;
}

__device__ __forceinline__ float2 bf16_pair(const bf16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}

__device__ __forceinline__ void prefetch_l2(const void* p) {
  asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p));
}

template <class TY>
__device__ __forceinline__ void store_one(TY* p, float v) {
  *p = from_f32<TY>(v);
}

template <int C, int KS, int STAGES, bool SWZ, class TY>
__global__ void __launch_bounds__(EdgeMlpShape<C, KS, STAGES, SWZ>::kThreads, 1)
    edge_mlp_kernel(const Params p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // mma.sync bf16 and cp.async need sm_80; the launcher never starts this below
#else
  using S = EdgeMlpShape<C, KS, STAGES, SWZ>;
  constexpr int kNT = S::kNT, kSlices = S::kSlices, kChunks = S::kChunks;
  constexpr int kThreads = S::kThreads;

  extern __shared__ __align__(128) unsigned char smem[];
  bf16* const xs = reinterpret_cast<bf16*>(smem);
  bf16* const ys = reinterpret_cast<bf16*>(smem + S::kXBytes);
  bf16* const ws = reinterpret_cast<bf16*>(smem + S::kXBytes + S::kYBytes);
  float* const staging = reinterpret_cast<float*>(ys);
  float* const stats = staging + S::kStagingFloats;  // [2][kWarps][64]

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, tq = lane % 4;  // fragment row and column pair (mma_ptx.cuh)
  const int col0 = warp * S::kWarpCols;

  const int64_t first = blockIdx.x, stride = gridDim.x;
  const int64_t my_tiles = first < p.n_tiles ? (p.n_tiles - first + stride - 1) / stride : 0;
  const int total_steps = static_cast<int>(my_tiles) * 2 * kSlices;

  // Tile t's x rows into xs, rows past its edges zero-filled (nothing read).
  const auto issue_x = [&](int64_t t) {
    const TileInfo ti = tile_info(p, t);
    for (int i = tid; i < kTileRows * kChunks; i += kThreads) {
      const int r = i / kChunks, c = i % kChunks * 8;
      const bool live = r < ti.n;
      const bf16* src = live ? p.x + (ti.e_begin + r) * C + c : p.x;
      ptx::cp_async_16(xs + S::at(r, c), src, live ? 16 : 0);
    }
  };
  // Tile t's sender and receiver projection rows into L2, so that its
  // gathers (step 1 below) wait for L2 rather than device memory.
  const auto prefetch_gathers = [&](int64_t t) {
    const TileInfo ti = tile_info(p, t);
    constexpr int kLines = C * 2 / 128 > 0 ? C * 2 / 128 : 1;  // 128-byte lines per row
    for (int i = tid; i < 2 * ti.n * kLines; i += kThreads) {
      const int r = i / (2 * kLines), which = i / kLines % 2, line = i % kLines;
      const int64_t idx = which ? p.receivers[ti.e_begin + r] : p.senders[ti.e_begin + r];
      if (idx >= 0 && idx < (which ? p.rows_r : p.rows_s))
        prefetch_l2((which ? p.rp : p.sp) + idx * C + line * 64);
    }
  };
  // Global step q: slice (q mod kSlices) of w0 or w1, into ring slot q mod STAGES.
  const auto issue_slice = [&](int q) {
    const int s = q % (2 * kSlices);
    const bf16* w = (s < kSlices ? p.w0 : p.w1) + (s % kSlices) * KS * C;
    bf16* dst = ws + (q % STAGES) * S::kSliceElems;
    for (int i = tid; i < KS * kChunks; i += kThreads) {
      const int r = i / kChunks, c = i % kChunks * 8;
      ptx::cp_async_16(dst + S::at(r, c), w + r * C + c, 16);
    }
  };
  // Every step commits one group (possibly empty), so waiting for all but
  // the newest STAGES - 2 groups means step q's slice has landed.
  const auto begin_step = [&](int q, int64_t next_x_tile) {
    ptx::cp_async_wait<STAGES - 2>();
    __syncthreads();  // slice q is visible; every warp is done with slot q - 1
    if (q + STAGES - 1 < total_steps) issue_slice(q + STAGES - 1);
    if (next_x_tile >= 0) issue_x(next_x_tile);
    ptx::cp_async_commit();
    if (next_x_tile >= 0) prefetch_gathers(next_x_tile);
  };
  float acc[4][kNT][4];
  // acc += A[:, k0 .. k0 + KS) @ slice, A = 64 rows in shared memory.
  const auto mma_step = [&](const bf16* a_rows, int k0, int q) {
    const bf16* slice = ws + (q % STAGES) * S::kSliceElems;
#pragma unroll
    for (int sub = 0; sub < S::kSub; ++sub) {
      uint32_t b[kNT][2];
#pragma unroll
      for (int j = 0; j < kNT / 2; ++j) {
        // B(k, n) = w[k][n]: the slice's rows, transposed by ldmatrix.
        uint32_t r[4];
        ptx::ldmatrix_x4_trans(r, slice + S::at(16 * sub + lane % 16, col0 + 16 * j + lane / 16 * 8));
        b[2 * j][0] = r[0];
        b[2 * j][1] = r[1];
        b[2 * j + 1][0] = r[2];
        b[2 * j + 1][1] = r[3];
      }
#pragma unroll
      for (int mt = 0; mt < 4; ++mt) {
        uint32_t a[4];
        ptx::ldmatrix_x4(a, a_rows + S::at(16 * mt + lane % 16, k0 + 16 * sub + lane / 16 * 8));
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) ptx::mma_bf16_16816(acc[mt][nt], a, b[nt][0], b[nt][1]);
      }
    }
  };

  if (my_tiles == 0) return;  // uniform: the grid never exceeds the tiles
  // Prologue: the first tile's rows with slice 0, then slices 1 .. STAGES - 2.
  issue_x(first);
  for (int q = 0; q < STAGES - 1; ++q) {
    if (q < total_steps) issue_slice(q);
    ptx::cp_async_commit();
  }
  prefetch_gathers(first);

  int q = 0;
  for (int64_t i = 0; i < my_tiles; ++i) {
    const int64_t t = first + i * stride;
    const TileInfo ti = tile_info(p, t);
    if constexpr (STAGES - 1 > kSlices) {
      // Few slices per GEMM: this tile's x group may be younger than the
      // slices the first step waits for.
      ptx::cp_async_wait<0>();
      __syncthreads();
    }

    // 1. Accumulators = b0 + both projections (the gathers' latency is paid
    // once per tile, all loads in flight together).
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = 16 * mt + 8 * h + g;
        const bool live = row < ti.n;
        const int64_t si = live ? p.senders[ti.e_begin + row] : 0;
        const int64_t ri = live ? p.receivers[ti.e_begin + row] : 0;
        const bool bad = si < 0 || si >= p.rows_s || ri < 0 || ri >= p.rows_r;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) {
          const int c = col0 + 8 * nt + 2 * tq;
          float2 v = make_float2(0.f, 0.f);
          if (live) {
            if (bad) {
              v = make_float2(__int_as_float(0x7fc00000), __int_as_float(0x7fc00000));  // broken graph
            } else {
              const float2 bias = *reinterpret_cast<const float2*>(p.b0 + c);
              const float2 s = bf16_pair(p.sp + si * C + c), r = bf16_pair(p.rp + ri * C + c);
              v = make_float2(bias.x + s.x + r.x, bias.y + s.y + r.y);
            }
          }
          acc[mt][nt][2 * h] = v.x;
          acc[mt][nt][2 * h + 1] = v.y;
        }
      }

    // 2. First GEMM.
    for (int ks = 0; ks < kSlices; ++ks, ++q) {
      begin_step(q, -1);
      mma_step(xs, ks * KS, q);
    }

    // 3. swish -> bf16 -> ys. (ys was last read by the previous tile's
    // epilogue, before the barriers of the steps above.)
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
        const int c = col0 + 8 * nt + 2 * tq;
        *reinterpret_cast<uint32_t*>(ys + S::at(16 * mt + g, c)) =
            pack_x2<bf16>(activate<Activation::swish>(acc[mt][nt][0]),
                           activate<Activation::swish>(acc[mt][nt][1]));
        *reinterpret_cast<uint32_t*>(ys + S::at(16 * mt + g + 8, c)) =
            pack_x2<bf16>(activate<Activation::swish>(acc[mt][nt][2]),
                           activate<Activation::swish>(acc[mt][nt][3]));
      }

    // 4. Second GEMM from b1; its first step's barrier also publishes ys and
    // frees xs for the next tile's rows.
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
      const float2 bias = *reinterpret_cast<const float2*>(p.b1 + col0 + 8 * nt + 2 * tq);
#pragma unroll
      for (int mt = 0; mt < 4; ++mt) {
        acc[mt][nt][0] = acc[mt][nt][2] = bias.x;
        acc[mt][nt][1] = acc[mt][nt][3] = bias.y;
      }
    }
    const int64_t next = i + 1 < my_tiles ? t + stride : -1;
    for (int ks = 0; ks < kSlices; ++ks, ++q) {
      begin_step(q, ks == 0 ? next : -1);
      mma_step(ys, ks * KS, q);
    }

    // 5. LayerNorm statistics: sums over the quad, then over the warps
    // through ys, once every warp is done reading it.
    __syncthreads();
    float mean[4][2], inv[4][2];
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float s = 0.f;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) s += acc[mt][nt][2 * h] + acc[mt][nt][2 * h + 1];
        s += __shfl_xor_sync(kFullMask, s, 1);
        s += __shfl_xor_sync(kFullMask, s, 2);
        if (tq == 0) stats[warp * kTileRows + 16 * mt + 8 * h + g] = s;
      }
    __syncthreads();
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = 16 * mt + 8 * h + g;
        float s = 0.f;
#pragma unroll
        for (int w = 0; w < S::kWarps; ++w) s += stats[w * kTileRows + row];
        mean[mt][h] = s * (1.f / C);
        float sq = 0.f;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const float d = acc[mt][nt][2 * h + e] - mean[mt][h];
            sq += d * d;
          }
        sq += __shfl_xor_sync(kFullMask, sq, 1);
        sq += __shfl_xor_sync(kFullMask, sq, 2);
        if (tq == 0) stats[(S::kWarps + warp) * kTileRows + row] = sq;
      }
    __syncthreads();
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = 16 * mt + 8 * h + g;
        float sq = 0.f;
#pragma unroll
        for (int w = 0; w < S::kWarps; ++w) sq += stats[(S::kWarps + w) * kTileRows + row];
        inv[mt][h] = 1.f / sqrtf(sq * (1.f / C) + kEps);
      }
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
      const int c = col0 + 8 * nt + 2 * tq;
      const float2 sc = *reinterpret_cast<const float2*>(p.cond + c);
      const float2 of = *reinterpret_cast<const float2*>(p.cond + C + c);
#pragma unroll
      for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          float& v0 = acc[mt][nt][2 * h];
          float& v1 = acc[mt][nt][2 * h + 1];
          v0 = (v0 - mean[mt][h]) * inv[mt][h] * (1.f + sc.x) + of.x;
          v1 = (v1 - mean[mt][h]) * inv[mt][h] * (1.f + sc.y) + of.y;
        }
    }

    // 6. Segment sums, 16 columns (two n8 tiles) at a time through this
    // warp's staging rows; lanes l and l + 16 sum alternate rows of column
    // l % 16 and meet with a shuffle.
    float* const st = staging + warp * kTileRows * kStageLd;
    const int64_t base = p.offsets[0];
    TY* const y = static_cast<TY*>(p.y);
#pragma unroll
    for (int pair = 0; pair < kNT / 2; ++pair) {
#pragma unroll
      for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int j = 0; j < 2; ++j)
            *reinterpret_cast<float2*>(st + (16 * mt + 8 * h + g) * kStageLd + 8 * j + 2 * tq) =
                make_float2(acc[mt][2 * pair + j][2 * h], acc[mt][2 * pair + j][2 * h + 1]);
      __syncwarp();
      const int c = lane % 16, half = lane / 16;
      for (int64_t s = ti.s0; s < ti.s1; ++s) {
        float sum = 0.f;
        if (ti.ok) {
          // Clamped to the tile's rows: staging reads stay in bounds even
          // for non-monotonic offsets.
          const int64_t rb = max(int64_t{0}, p.offsets[s] - base - ti.e_begin);
          const int64_t re = min(int64_t{ti.n}, p.offsets[s + 1] - base - ti.e_begin);
          for (int64_t r = rb + half; r < re; r += 2) sum += st[r * kStageLd + c];
        } else {
          sum = __int_as_float(0x7fc00000);  // malformed tile plan
        }
        sum += __shfl_down_sync(kFullMask, sum, 16);
        if (half == 0) store_one(y + s * C + col0 + 16 * pair + c, sum);
      }
      __syncwarp();  // the staging rows are rewritten by the next pair
    }
  }
  ptx::cp_async_wait<0>();
#endif
}

bool device_fits(size_t smem) {
  int device = 0, major = 0, optin = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return major >= 8 && smem <= static_cast<size_t>(optin);
}

// The shapes per column count and variant: 1 = 16-row slices, 5 deep, padded
// rows (C = 32 always); 2 = 32-row slices, 3 deep, swizzled rows (half the
// barriers). Calls f(shape tag) and returns its result; false for others.
template <class Shape>
struct Tag {
  using type = Shape;
};
template <class F>
bool with_shape(int64_t cols, int variant, F&& f) {
  if (cols == 32) return f(Tag<EdgeMlpShape<32, 16, 5, false>>{});
  if (cols != 512) return false;
  if (variant == 1) return f(Tag<EdgeMlpShape<512, 16, 5, false>>{});
  return f(Tag<EdgeMlpShape<512, 32, 3, true>>{});
}

template <class Shape, class TY>
struct KernelOf;
template <int C, int KS, int STAGES, bool SWZ, class TY>
struct KernelOf<EdgeMlpShape<C, KS, STAGES, SWZ>, TY> {
  static constexpr auto kernel = &edge_mlp_kernel<C, KS, STAGES, SWZ, TY>;
};

}  // namespace

void set_edge_mlp_variant(int variant) { g_variant = variant; }

bool edge_mlp_supported(int64_t cols) {
  return with_shape(cols, g_variant.load(), [](auto tag) {
    return device_fits(decltype(tag)::type::kBytes);
  });
}

bool edge_mlp_launch(const EdgeMlpDeviceArgs& a, cudaStream_t stream) {
  if (!edge_mlp_supported(a.cols)) return false;
  // 16-byte rows for cp.async (C % 8 == 0 keeps every row aligned when the
  // base is), 4-byte bf16 pairs and 8-byte float pairs for the epilogues.
  if (!is_aligned(a.x, 16) || !is_aligned(a.w0, 16) || !is_aligned(a.w1, 16) ||
      !is_aligned(a.sender_proj, 4) || !is_aligned(a.receiver_proj, 4) || !is_aligned(a.b0, 8) ||
      !is_aligned(a.b1, 8) || !is_aligned(a.cond, 8) ||
      !is_aligned(a.y, a.ty == DType::f32 ? 4 : 2))
    return false;
  if (a.n_tiles == 0) return true;
  int device = 0, sms = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const Params p{static_cast<const bf16*>(a.x), a.rows_x, static_cast<const bf16*>(a.w0), a.b0,
                 static_cast<const bf16*>(a.sender_proj), a.rows_s, a.senders,
                 static_cast<const bf16*>(a.receiver_proj), a.rows_r, a.receivers,
                 static_cast<const bf16*>(a.w1), a.b1, a.cond, a.offsets, a.tiles, a.n_tiles,
                 a.y, a.segments};
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(a.n_tiles, sms));
  return with_shape(a.cols, g_variant.load(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    dispatch_float_type(a.ty, "edge_mlp", [&](auto yt) {
      const auto kernel = KernelOf<S, decltype(yt)>::kernel;
      CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(S::kBytes)));
      kernel<<<blocks, S::kThreads, S::kBytes, stream>>>(p);
    });
    CUDA_CHECK(cudaGetLastError());
    return true;
  });
}

}  // namespace gencast::cuda
