// Thin wrappers over the PTX instructions of register-resident tensor-core
// kernels (sm_80+): asynchronous global->shared copies, ldmatrix, the
// m16n8k16 bf16 and m16n8k8 tf32 MMAs with float32 accumulation, and the
// round-to-nearest float -> tf32 conversion.
//
// Fragment layouts (PTX ISA, "mma.m16n8k16" with .bf16), with g = lane / 4
// and t = lane % 4:
//  * A (16x16, row-major): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..),
//    a3 = (g+8, 2t+8..), two bf16 per 32-bit register, lower column in the
//    low half;
//  * B (16x8, k x n): b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g);
//  * C/D (16x8, float): c0, c1 = (g, 2t), (g, 2t+1); c2, c3 = the same at row g+8.
// So the C fragments of two adjacent n8 tiles, packed to bf16 pairs, are the
// A fragment of a k16 step (FlashAttention-2's register reuse of P).
//
// m16n8k8 with .tf32 (one float per register, same g and t):
//  * A (16x8, row-major): a0 = (g, t), a1 = (g+8, t), a2 = (g, t+4), a3 = (g+8, t+4);
//  * B (8x8, k x n): b0 = (k t, n g), b1 = (k t+4, n g);
//  * C/D as above.
// ldmatrix reads 32-bit data as b16 pairs: an "8x8 b16 matrix" is 8 rows of 4
// floats and lane l receives the float at (row l / 4, column l % 4) = (g, t).
// The MMA reads only the tf32 bits of each register (sign, exponent, top 10
// mantissa bits): it truncates, a bias toward zero, unless the operand is
// rounded beforehand -- with cvt_rna_tf32, or more cheaply with
// tf32_operand (half a tf32 ulp added to the bits, the truncation finishes
// the rounding: CUTLASS's round_half_ulp_truncate).
//
// Invariants: shared pointers point into shared memory; ldmatrix rows are 16
// bytes and 16-byte aligned; every lane of the warp executes the .aligned
// instructions with its own row address. The asm is volatile with a memory
// clobber where it reads or writes memory, so it stays ordered with the
// barriers around it.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace gencast::cuda::ptx {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Copies 16 bytes global -> shared without registers; src_bytes < 16 copies
// that many and zero-fills the rest (0: the destination becomes zeros and
// nothing is read).
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(src_bytes)
               : "memory");
}
// Copies 8 bytes global -> shared (both 8-byte aligned), through L1.
__device__ __forceinline__ void cp_async_8(void* dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(smem_addr(dst)), "l"(src)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most N committed groups of this thread are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Four 8x8 b16 matrices; lane l gives the address of row l % 8 of matrix l / 8.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(row))
               : "memory");
}
// The same, each matrix transposed on the way.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(row))
               : "memory");
}

// d += a * b, 16x8x16, bf16 operands, float32 accumulators.
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                               uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// 2^x in one MUFU instruction (ex2.approx.ftz: exact for integers, about 2
// ulp otherwise; a result below 2^-126 flushes to 0). exp2f adds a range
// check and two multiplies around the same instruction to keep those tiny
// results, which no softmax weight needs.
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// The two bf16 halves of a packed pair (pack_x2<bf16>'s lo, hi; device_math.cuh)
// as floats: exact.
__device__ __forceinline__ float bf16_low(uint32_t pair) { return __uint_as_float(pair << 16); }
__device__ __forceinline__ float bf16_high(uint32_t pair) {
  return __uint_as_float(pair & 0xffff0000u);
}

// d += a * b, 16x8x8, tf32 operands (floats already rounded to tf32), float32
// accumulators.
__device__ __forceinline__ void mma_tf32_1688(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                              uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The float whose bits are `bits`, rounded to the nearest tf32 (ties away
// from zero), as bits: a float with the low 13 mantissa bits 0. Non-finite
// values stay non-finite; a finite value within half a tf32 ulp of the
// largest float rounds to Inf. Pure (not volatile): the compiler may hoist
// or merge it.
__device__ __forceinline__ uint32_t cvt_rna_tf32(uint32_t bits) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(__uint_as_float(bits)));
  return r;
}
__device__ __forceinline__ float round_tf32(float v) {
  return __uint_as_float(cvt_rna_tf32(__float_as_uint(v)));
}

// Bits to pass as an MMA .tf32 operand so that the MMA multiplies
// cvt_rna_tf32 of the float `bits`: finite values get half a tf32 ulp added
// (the carry of a round-up reaches bit 13; the MMA drops bits 0-12), others
// pass unchanged (the MMA then reads what cvt_rna_tf32 would give). Not a
// float value itself: only for MMA operands.
__device__ __forceinline__ uint32_t tf32_operand(uint32_t bits) {
  return isfinite(__uint_as_float(bits)) ? bits + 0x1000u : bits;
}
// The same for a float known to be finite with a finite tf32 rounding (the
// caller's invariant): one integer add. On a non-finite value it would be
// wrong (NaN payloads can wrap to +-0).
__device__ __forceinline__ uint32_t tf32_operand_finite(uint32_t bits) { return bits + 0x1000u; }

}  // namespace gencast::cuda::ptx
