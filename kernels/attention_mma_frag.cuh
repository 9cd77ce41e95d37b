// WMMA fragment loads and stores from shared memory, in the shared state
// space, for the tensor-core attention kernel (attention_mma.cu).
//
// Why: nvcuda::wmma's bf16 and tf32 load_matrix_sync take generic pointers
// and (nvcc 13.0, sm_90) compile to four generic 32-bit loads per fragment;
// the same PTX instruction with the .shared qualifier compiles to one
// ldmatrix (LDSM) for bf16 and to shared loads for tf32. These helpers issue
// exactly the instruction that load_matrix_sync / store_matrix_sync issue,
// plus .shared: a fragment object is the instruction's register vector, in
// order (the API passes it as an int or float array, crt/mma.hpp), so the
// fragments' element layout stays as opaque as with the API, and they work
// with wmma::mma_sync and fill_fragment unchanged.
//
// Invariants: every pointer points into shared memory, is 32-byte aligned,
// and ldm (elements) is a multiple of 16 bytes, as the API requires; all
// lanes of the warp call with the same arguments (the .aligned form). The
// asm statements are volatile with a memory clobber, so the compiler keeps
// them in program order with the barriers and the ordinary shared accesses
// around them.
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include <cstdint>

namespace gencast::cuda::wmma_shared {

namespace wmma = nvcuda::wmma;

using Bf16A = wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
using Bf16BCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major>;
using Bf16BRow = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
using Bf16Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
using Tf32A = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using Tf32BCol = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
using Tf32BRow = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
using Tf32Acc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;

// The PTX register vectors: 4 x b32 per operand fragment, 8 x f32 per accumulator.
static_assert(sizeof(Bf16A::x) == 16 && sizeof(Bf16BCol::x) == 16 && sizeof(Bf16BRow::x) == 16);
static_assert(sizeof(Tf32A::x) == 16 && sizeof(Tf32BCol::x) == 16 && sizeof(Tf32BRow::x) == 16);
static_assert(sizeof(Bf16Acc::x) == 32 && sizeof(Tf32Acc::x) == 32);

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

#define GENCAST_WMMA_LOAD_OPERAND(FRAG, ELEM, PTX)                                      \
  __device__ __forceinline__ void load(FRAG& f, const ELEM* p, unsigned ldm) {          \
    uint32_t* r = reinterpret_cast<uint32_t*>(f.x);                                     \
    asm volatile(PTX " {%0, %1, %2, %3}, [%4], %5;"                                     \
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])                       \
                 : "r"(shared_address(p)), "r"(ldm)                                     \
                 : "memory");                                                           \
  }

GENCAST_WMMA_LOAD_OPERAND(Bf16A, __nv_bfloat16, "wmma.load.a.sync.aligned.row.m16n16k16.shared.bf16")
GENCAST_WMMA_LOAD_OPERAND(Bf16BCol, __nv_bfloat16, "wmma.load.b.sync.aligned.col.m16n16k16.shared.bf16")
GENCAST_WMMA_LOAD_OPERAND(Bf16BRow, __nv_bfloat16, "wmma.load.b.sync.aligned.row.m16n16k16.shared.bf16")
GENCAST_WMMA_LOAD_OPERAND(Tf32A, float, "wmma.load.a.sync.aligned.row.m16n16k8.shared.tf32")
GENCAST_WMMA_LOAD_OPERAND(Tf32BCol, float, "wmma.load.b.sync.aligned.col.m16n16k8.shared.tf32")
GENCAST_WMMA_LOAD_OPERAND(Tf32BRow, float, "wmma.load.b.sync.aligned.row.m16n16k8.shared.tf32")
#undef GENCAST_WMMA_LOAD_OPERAND

// Accumulators, row-major in memory.
#define GENCAST_WMMA_ACCUMULATOR(FRAG, SHAPE)                                             \
  __device__ __forceinline__ void load(FRAG& f, const float* p, unsigned ldm) {           \
    asm volatile("wmma.load.c.sync.aligned.row." SHAPE ".shared.f32 "                     \
                 "{%0, %1, %2, %3, %4, %5, %6, %7}, [%8], %9;"                            \
                 : "=f"(f.x[0]), "=f"(f.x[1]), "=f"(f.x[2]), "=f"(f.x[3]), "=f"(f.x[4]),  \
                   "=f"(f.x[5]), "=f"(f.x[6]), "=f"(f.x[7])                               \
                 : "r"(shared_address(p)), "r"(ldm)                                       \
                 : "memory");                                                             \
  }                                                                                       \
  __device__ __forceinline__ void store(float* p, const FRAG& f, unsigned ldm) {          \
    asm volatile("wmma.store.d.sync.aligned.row." SHAPE ".shared.f32 "                    \
                 "[%0], {%1, %2, %3, %4, %5, %6, %7, %8}, %9;"                            \
                 :                                                                        \
                 : "r"(shared_address(p)), "f"(f.x[0]), "f"(f.x[1]), "f"(f.x[2]),         \
                   "f"(f.x[3]), "f"(f.x[4]), "f"(f.x[5]), "f"(f.x[6]), "f"(f.x[7]),       \
                   "r"(ldm)                                                               \
                 : "memory");                                                             \
  }

GENCAST_WMMA_ACCUMULATOR(Bf16Acc, "m16n16k16")
GENCAST_WMMA_ACCUMULATOR(Tf32Acc, "m16n16k8")
#undef GENCAST_WMMA_ACCUMULATOR

}  // namespace gencast::cuda::wmma_shared
