// Thin wrappers over the Hopper warpgroup MMA (wgmma, sm_90a only): the
// asynchronous m64nNk16 bf16 or f16 MMA (T = __nv_bfloat16 or __half) with A
// from registers and B from shared memory, its fences and groups, and the
// shared-memory matrix descriptor.
//
// A warpgroup is 4 consecutive warps (128 threads) starting at a warp index
// divisible by 4; every thread of it executes each .aligned instruction.
// Fragment layouts (PTX ISA, "wgmma register fragments"): warp w of the
// warpgroup holds rows 16w..16w+15 of A and of the accumulator D; within a
// warp they are exactly the m16n8k16 layouts of mma.sync (mma_ptx.cuh): A as
// a0..a3 = (g, 2t), (g+8, 2t), (g, 2t+8), (g+8, 2t+8) bf16 pairs, D as n8
// tiles d[j][0..3] = (g, 8j+2t), (g, 8j+2t+1), (g+8, 8j+2t), (g+8, 8j+2t+1),
// with g = lane / 4, t = lane % 4. So a kernel written on mma.sync fragments
// keeps its register code and only swaps the MMAs.
//
// Ordering (PTX ISA): wgmma_fence() before the first wgmma of a batch
// whenever the accumulator or A registers were written by other
// instructions; wgmma_commit() closes a batch; wgmma_wait<N>() waits until at
// most N batches are in flight -- the accumulators must not be read or
// written before the wait. Shared memory written by ordinary stores or
// cp.async and read by a wgmma needs fence_proxy_async() in each writing
// thread before the barrier that publishes it.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace gencast::cuda::wgmma {

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// Pins accumulator registers at this point of the program: the wgmma asm
// statements say they write d when issued, but the values arrive only at
// wgmma_wait, so every read or write of d must stay after the wait (and
// every write before the issue). An empty asm that "modifies" each register,
// placed right after the wait and right before the fence, keeps the compiler
// from moving accesses across (CUTLASS's warpgroup_fence_operand).
template <int kN>
__device__ __forceinline__ void fence_operands(float (&d)[kN][4]) {
#pragma unroll
  for (int j = 0; j < kN; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[j][e])::"memory");
}

// Shared-memory matrix descriptor with the 128-byte swizzle (PTX ISA,
// "matrix descriptor"): start address, leading and stride byte offsets, all
// in 16-byte units; bits 62-63 = 1 select the 128B swizzle. The swizzle is
// applied to absolute address bits (16-byte chunk bits 4-6 XOR 128-byte row
// bits 7-9), so every swizzled tile must start 1024-byte aligned; a start
// address may move inside it by whole 16-byte chunks (the k steps of a
// K-major operand). K-major B: the stride offset is the distance between
// groups of 8 rows (the leading offset is unused); MN-major B: the leading
// offset is the distance between 64-element column blocks, the stride offset
// between groups of 8 k rows.
__device__ __forceinline__ uint64_t smem_desc_128b(uint32_t smem_address, uint32_t leading_bytes,
                                                   uint32_t stride_bytes) {
  return uint64_t{(smem_address & 0x3ffffu) >> 4} | uint64_t{(leading_bytes >> 4) & 0x3fffu} << 16 |
         uint64_t{(stride_bytes >> 4) & 0x3fffu} << 32 | uint64_t{1} << 62;
}

// d (+)= a * B for one 64 x N x 16 step of the warpgroup: a = this warp's
// 16 rows of A as the m16n8k16 A fragment (registers), B from shared memory
// through `desc_b`; scale_d = 0 overwrites d instead of accumulating.
// kTransB = 1 reads B MN-major (rows of B's k are contiguous n values).
// Inline asm needs its operand lists spelled out: the macros below build
// them (four accumulators per row of d, then a, desc_b, kTransB, scale_d)
// and pick the PTX type name from T.
#define GENCAST_WGMMA_D4(i) "+f"(d[i][0]), "+f"(d[i][1]), "+f"(d[i][2]), "+f"(d[i][3])
#define GENCAST_WGMMA_INPUTS \
  "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(kTransB), "r"(scale_d)
#define GENCAST_WGMMA_TYPED(ASM) \
  if constexpr (std::is_same_v<T, __half>) \
    ASM("f16"); \
  else \
    ASM("bf16")

#define GENCAST_WGMMA_M64N64K16_RS(TYPE) \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %38, 0;\n" \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE " " \
               "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, " \
               "{%32, %33, %34, %35}, %36, p, 1, 1, %37;\n}\n" \
               : GENCAST_WGMMA_D4(0), GENCAST_WGMMA_D4(1), GENCAST_WGMMA_D4(2), GENCAST_WGMMA_D4(3), \
                 GENCAST_WGMMA_D4(4), GENCAST_WGMMA_D4(5), GENCAST_WGMMA_D4(6), GENCAST_WGMMA_D4(7) \
               : GENCAST_WGMMA_INPUTS)
template <int kTransB, class T = __nv_bfloat16>
__device__ __forceinline__ void wgmma_m64n64k16_rs(float (&d)[8][4], const uint32_t (&a)[4],
                                                 uint64_t desc_b, int scale_d) {
  GENCAST_WGMMA_TYPED(GENCAST_WGMMA_M64N64K16_RS);
}
#undef GENCAST_WGMMA_M64N64K16_RS

// The same, 64 x 72 x 16.
#define GENCAST_WGMMA_M64N72K16_RS(TYPE) \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %42, 0;\n" \
               "wgmma.mma_async.sync.aligned.m64n72k16.f32." TYPE "." TYPE " " \
               "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35}, " \
               "{%36, %37, %38, %39}, %40, p, 1, 1, %41;\n}\n" \
               : GENCAST_WGMMA_D4(0), GENCAST_WGMMA_D4(1), GENCAST_WGMMA_D4(2), GENCAST_WGMMA_D4(3), \
                 GENCAST_WGMMA_D4(4), GENCAST_WGMMA_D4(5), GENCAST_WGMMA_D4(6), GENCAST_WGMMA_D4(7), \
                 GENCAST_WGMMA_D4(8) \
               : GENCAST_WGMMA_INPUTS)
template <int kTransB, class T = __nv_bfloat16>
__device__ __forceinline__ void wgmma_m64n72k16_rs(float (&d)[9][4], const uint32_t (&a)[4],
                                                 uint64_t desc_b, int scale_d) {
  GENCAST_WGMMA_TYPED(GENCAST_WGMMA_M64N72K16_RS);
}
#undef GENCAST_WGMMA_M64N72K16_RS

// The same, 64 x 136 x 16.
#define GENCAST_WGMMA_M64N136K16_RS(TYPE) \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %74, 0;\n" \
               "wgmma.mma_async.sync.aligned.m64n136k16.f32." TYPE "." TYPE " " \
               "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67}, " \
               "{%68, %69, %70, %71}, %72, p, 1, 1, %73;\n}\n" \
               : GENCAST_WGMMA_D4(0), GENCAST_WGMMA_D4(1), GENCAST_WGMMA_D4(2), GENCAST_WGMMA_D4(3), \
                 GENCAST_WGMMA_D4(4), GENCAST_WGMMA_D4(5), GENCAST_WGMMA_D4(6), GENCAST_WGMMA_D4(7), \
                 GENCAST_WGMMA_D4(8), GENCAST_WGMMA_D4(9), GENCAST_WGMMA_D4(10), GENCAST_WGMMA_D4(11), \
                 GENCAST_WGMMA_D4(12), GENCAST_WGMMA_D4(13), GENCAST_WGMMA_D4(14), GENCAST_WGMMA_D4(15), \
                 GENCAST_WGMMA_D4(16) \
               : GENCAST_WGMMA_INPUTS)
template <int kTransB, class T = __nv_bfloat16>
__device__ __forceinline__ void wgmma_m64n136k16_rs(float (&d)[17][4], const uint32_t (&a)[4],
                                                 uint64_t desc_b, int scale_d) {
  GENCAST_WGMMA_TYPED(GENCAST_WGMMA_M64N136K16_RS);
}
#undef GENCAST_WGMMA_M64N136K16_RS

#undef GENCAST_WGMMA_TYPED
#undef GENCAST_WGMMA_INPUTS
#undef GENCAST_WGMMA_D4

}  // namespace gencast::cuda::wgmma
