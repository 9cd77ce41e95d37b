// Block-sparse neighbourhood attention on the GPU: the device copy of an
// AttentionTileLayout (attention_tiles.h) and the kernel launchers.
//
// out[q, h, :] = sum_k softmax_k(q.k / sqrt(D)) v  over the neighbours k of q,
// computed with an online softmax over the visited 64x64 tiles. The kernels:
//  * SIMT (attention.cu): float32 arithmetic whatever the storage type (bf16
//    is widened on load); the fp32 path and the reference of the other one;
//  * tensor cores (attention_mma.cu): q.k and p.v on WMMA fragments with
//    float32 accumulation, operands rounded to bf16 or tf32; the softmax
//    itself stays float32;
//  * bf16 in registers (attention_flash.cu): the same arithmetic as the WMMA
//    kernel's bf16 form with scores, weights and output in mma.sync
//    fragments and a cp.async pipeline; runs bf16 whenever head_dim % 8 == 0;
//  * tf32 in registers (attention_flash_tf32.cu): the same for the WMMA
//    kernel's tf32 form (f32 qkv); runs tf32 whenever head_dim % 4 == 0;
//  * bf16 on Hopper's warpgroup MMA (sm90a/attention_wgmma.cu): the bf16
//    register kernel with wgmma instead of mma.sync; runs bf16 in its place
//    on compute capability 9.0 when head_dim % 8 == 0 and head_dim > 32.
// Masked entries never enter the sums (the SIMT kernel skips them; the
// tensor-core kernel gives them weight exactly 0, and replaces non-finite
// values of staged V by 0 while flagging their keys, because 0 * NaN = NaN
// on a tensor core), so the three tile modes give the same result up to
// float rounding and a NaN in a non-neighbour's key or value cannot leak
// into a query's output, while a NaN among a query's own neighbours makes
// its output NaN, as on the CPU (an Inf value there gives NaN, where the
// CPU may give +-Inf: non-finite either way).
//
// Invariants: qkv [N, 3*H*D] with q | k | v blocks, each head-major (h*D + d);
// out [N, H*D]; 1 <= D <= 128; a query without neighbours gets zeros (as
// the CPU reference does).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"

namespace gencast::cuda {

inline constexpr int kAttentionMaxHeadDim = 128;

// Device pointers of a tile layout plus the problem size.
struct AttentionDeviceTiles {
  const int32_t* slots = nullptr;           // [q_blocks * 64]: node per slot, -1 = padding
  const int32_t* key_slots = nullptr;       // [k_blocks * 64]: node per key slot, -1 = padding
  const int32_t* tile_offsets = nullptr;    // [q_blocks + 1]
  const int32_t* tile_key_block = nullptr;  // [tiles]
  const int32_t* tile_mask = nullptr;       // [tiles]
  const uint64_t* masks = nullptr;          // [mask_count * 64]
  // Scratch of the flash kernels: [k_blocks * heads] words, bit r of word
  // kb * heads + h = key slot kb*64 + r has a non-finite value in head h of V.
  uint64_t* bad_words = nullptr;
  // Their per-node scratch: [nodes * heads] bytes, 1 = a value of that head
  // of that node's V is non-finite (set per call, before bad_words).
  uint8_t* bad_nodes = nullptr;
  // Optional launch gate of the flash kernels and their pre-pass: with gate
  // set, they do nothing unless *gate == gate_open (read on the device, so
  // two launches can route one call by a flag a previous kernel wrote).
  const int32_t* gate = nullptr;
  int32_t gate_open = 0;
  int64_t nodes = 0;
  int64_t q_blocks = 0;
  int64_t k_blocks = 0;  // key groups
  int heads = 0;
  int head_dim = 0;
};

// The arithmetic of the attention kernels.
enum class AttentionMath {
  f32_simt,   // float32 everywhere (SIMT kernel)
  tf32_mma,   // q, k, v and p rounded to tf32, tensor cores, float32 softmax and sums
  bf16_mma,   // q, k, v and p rounded to bf16, tensor cores, float32 softmax and sums
};

// fp32 -> f32_simt (true float32), tf32 -> tf32_mma, bf16 -> bf16_mma.
AttentionMath attention_math_for(Precision precision);
const char* attention_math_name(AttentionMath math);

// Runs the kernel of `math`. The tensor-core kernel needs compute capability
// 8.0 and, at tf32 with D > 64, 142 KiB of shared memory per block; where the
// device lacks either, the SIMT kernel runs instead (same function, float32).
void attention_launch(const AttentionDeviceTiles& tiles, const void* qkv, DType t_qkv, void* out,
                      DType t_out, AttentionMath math, cudaStream_t stream);

// The register-resident bf16 kernel alone (attention_flash.cu). Returns
// false, launching nothing, unless qkv is bf16, head_dim % 8 == 0, the plan
// has its bad_words scratch and the device is sm_80+ with enough shared memory.
bool attention_flash_launch(const AttentionDeviceTiles& tiles, const void* qkv, DType t_qkv,
                            void* out, DType t_out, cudaStream_t stream);

// The warpgroup-MMA bf16 kernel alone (sm90a/attention_wgmma.cu; f16 qkv:
// the tf32 route below). Returns false, launching nothing, unless it is
// enabled (set_attention_wgmma), qkv is bf16 or f16 and 16-byte aligned,
// head_dim % 8 == 0 and head_dim > 32, the plan has its bad_words scratch
// and the device is compute capability 9.0 with the kernel's sm_90a image.
bool attention_wgmma_launch(const AttentionDeviceTiles& tiles, const void* qkv, DType t_qkv,
                            void* out, DType t_out, cudaStream_t stream);
// Whether the current device runs the wgmma kernel (see above).
bool attention_wgmma_available();
// Whether attention_wgmma_launch would launch for these tiles and this qkv
// (the same checks, the development knob included).
bool attention_wgmma_runs(const AttentionDeviceTiles& tiles, const void* qkv, DType t_qkv);
// Development and test knob: false makes bf16 attention run the mma.sync
// flash kernel where the wgmma kernel would (same function), to compare the
// two in one process. Process-wide; on by default.
void set_attention_wgmma(bool enabled);

// The register-resident tf32 kernel alone (attention_flash_tf32.cu): the
// tf32_mma arithmetic. Returns false, launching nothing, unless qkv is f32
// and 16-byte aligned, head_dim % 4 == 0, out is aligned for pair stores,
// the plan has its bad_words scratch and the device is sm_80+ with enough
// shared memory (66 KiB at D > 64).
bool attention_flash_tf32_launch(const AttentionDeviceTiles& tiles, const void* qkv,
                                 DType t_qkv, void* out, DType t_out, cudaStream_t stream);
// Whether attention_flash_tf32_launch would launch (the same checks).
bool attention_flash_tf32_runs(const AttentionDeviceTiles& tiles, const void* qkv, DType t_qkv,
                               const void* out, DType t_out);

// The tf32 arithmetic on the Hopper wgmma kernel (attention_tf32_route.cu):
// q, k, v converted to f16 -- the 11-bit significands of TF32 -- and the
// softmax weights rounded to f16 instead of tf32, float32 scores and sums,
// at the f16 tensor rate. Where a finite value of qkv lies beyond f16's
// range (|x| >= 65520) the tf32 flash kernel runs instead: the conversion
// raises a flag on the device and both kernels are launched, each gated on
// it (AttentionDeviceTiles::gate), so no host synchronisation decides.
// Scratch from the caller: qkv_half [N, 3 H D] f16, flag one int32.
// Returns false, launching nothing, unless attention_tf32_as_f16_eligible.
bool attention_tf32_as_f16_eligible(const AttentionDeviceTiles& tiles, const void* qkv,
                                    DType t_qkv, const void* out, DType t_out);
bool attention_tf32_as_f16_launch(const AttentionDeviceTiles& tiles, const void* qkv,
                                  DType t_qkv, void* out, DType t_out, void* qkv_half,
                                  int32_t* flag, cudaStream_t stream);
// Development and test knob, as set_attention_wgmma: false keeps the tf32
// precision on the tf32 flash kernel. Process-wide; on by default.
void set_attention_tf32_as_f16(bool enabled);

// The tensor-core kernel alone (attention_mma.cu); `math` must be tf32_mma or
// bf16_mma. Returns false, launching nothing, when the current device cannot
// run it (see attention_launch). Arguments are checked by attention_launch.
bool attention_mma_launch(const AttentionDeviceTiles& tiles, const void* qkv, DType t_qkv,
                          void* out, DType t_out, AttentionMath math, cudaStream_t stream);

// The CUDA backend's AttentionPlan: the layout's arrays in device memory
// (owned through Tensors of the backend, so they count in its memory figures).
class CudaAttentionPlan final : public AttentionPlan {
 public:
  CudaAttentionPlan(AttentionDeviceTiles tiles, AttentionTiles mode, int64_t tile_count,
                    int64_t mask_count, Tensor slots, Tensor key_slots, Tensor offsets,
                    Tensor key_blocks, Tensor mask_index, Tensor masks, Tensor bad_words,
                    Tensor bad_nodes)
      : tiles_(tiles), mode_(mode), tile_count_(tile_count), mask_count_(mask_count),
        slots_(std::move(slots)), key_slots_(std::move(key_slots)), offsets_(std::move(offsets)),
        key_blocks_(std::move(key_blocks)),
        mask_index_(std::move(mask_index)), masks_(std::move(masks)),
        bad_words_(std::move(bad_words)), bad_nodes_(std::move(bad_nodes)) {}
  int64_t nodes() const override { return tiles_.nodes; }
  int heads() const override { return tiles_.heads; }
  int head_dim() const override { return tiles_.head_dim; }
  AttentionTiles mode() const { return mode_; }
  int64_t tile_count() const { return tile_count_; }  // tiles with neighbours, all query blocks
  int64_t mask_count() const { return mask_count_; }  // tiles holding neighbours, + 1
  const AttentionDeviceTiles& device_tiles() const { return tiles_; }

 private:
  AttentionDeviceTiles tiles_;
  AttentionTiles mode_;
  int64_t tile_count_;
  int64_t mask_count_;
  Tensor slots_, key_slots_, offsets_, key_blocks_, mask_index_, masks_, bad_words_, bad_nodes_;
};

}  // namespace gencast::cuda
