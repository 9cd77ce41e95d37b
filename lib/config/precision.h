// The precisions a run can use, described once. Everything that depends on
// the precision (the spec parser, the backend factory, the memory plan,
// verify's tolerances, the parity tests) reads this table, so adding a
// precision means adding one row here and teaching the CUDA backend its
// GEMM and attention paths.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace gencast {

// fp32: true float32. tf32: tensor cores on float32 storage. bf16: bfloat16
// storage and operands, float32 accumulation, LayerNorm statistics and softmax.
enum class Precision { fp32, tf32, bf16 };

struct PrecisionInfo {
  Precision id;
  const char* name;           // as written in specs and flags
  DType weights;              // storage of the parameters on the device
  DType activations;          // storage of activations and edge/node latents
  // Storage of the edge-embedding cache's normalized latents. tf32 keeps them
  // in IEEE half: the same 10-bit mantissa that a TF32 GEMM reads from its
  // float32 operand, so the product sees the same values (LayerNorm outputs,
  // |x| <= sqrt(latent) = 22.6, far inside half's range), in half the memory.
  DType edge_cache;
  const char* matmul;         // what the GEMMs and attention compute in, one line
  // Relative L2 error against the official outputs that verify and the GPU
  // parity tests accept: float32 rounding order (1e-4), TF32's 10-bit
  // mantissa (1e-3), bfloat16's 8-bit mantissa (2e-2).
  double gpu_tolerance;
  bool gpu_only;              // the CPU reference computes in float32 only
};

// Every precision, in the order help texts list them.
const std::vector<PrecisionInfo>& precision_table();
const PrecisionInfo& precision_info(Precision p);
const char* precision_name(Precision p);
// Bytes per element of weights and activations (the memory plan's unit).
size_t precision_bytes(Precision p);
// "fp32, tf32 or bf16", for messages and help texts.
std::string precision_choices();
std::optional<Precision> find_precision(std::string_view name);
// Throws InputError (field "precision") naming the accepted values.
Precision parse_precision(const std::string& name);

// Tolerances of the CPU float32 reference against the official outputs: one
// denoiser call (1e-5, float32 summation order) and whole sampler steps
// (1e-4: several calls compound the rounding).
inline constexpr double kCpuCallTolerance = 1e-5;
inline constexpr double kCpuSamplerTolerance = 1e-4;

}  // namespace gencast
