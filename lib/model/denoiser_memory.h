// What a Denoiser allocates on its backend, from sizes alone.
//
// The Denoiser constructor allocates through a ledger kept by the same parts
// and, once built, checks that it allocated exactly denoiser_memory() of its
// own sizes (Denoiser::sizes()), throwing std::logic_error otherwise: a
// buffer added to the denoiser without its line here fails the first test
// that builds one. The memory plan (runtime/memory_plan.h) calls
// denoiser_memory() with sizes estimated from the grid, before any graph
// exists, so the plan and the code cannot drift apart.
//
// Not described here: the attention plan (the backend's, built from the
// neighbourhoods by Backend::plan_attention) and host memory (pinned
// staging rows, conditioning layers).
#pragma once

#include <cstdint>

#include "config/model_config.h"
#include "core/dtype.h"
#include "model/denoiser_options.h"

namespace gencast {

// The sizes that fix every device allocation of a Denoiser. From a built
// graph they are exact (denoiser_sizes in model/denoiser.h); before one, the
// memory plan estimates them.
struct DenoiserSizes {
  int64_t n_grid = 0, n_mesh = 0;
  int64_t n_conditioning = 0;  // conditioning features of a grid node (without the 3 structural)
  int64_t n_targets = 0;
  int64_t grid2mesh_edges = 0, mesh2grid_edges = 0;
  // Pairs of the attention neighbourhoods: sizes the backend's attention
  // plan, not a denoiser allocation.
  int64_t attention_nnz = 0;
  // From the receivers' edge counts (Denoiser::plan_chunks,
  // model/segment_split.h):
  int64_t scratch_rows = 0;  // rows of the chunk scratch: the largest chunk, >= min(chunk_rows, n_grid)
  int64_t grid2mesh_pieces = 0, mesh2grid_pieces = 0;  // of the two-level sums; 0 = one level
  int64_t partial_rows = 0;  // most pieces of one two-level chunk
  // Entries of each edge set's tile table of the fused edge MLP (every
  // tileable chunk's boundaries, backend/edge_tiles.h); 0 = not fused.
  int64_t grid2mesh_tile_entries = 0, mesh2grid_tile_entries = 0;
};

// Device bytes by part; every allocation's bytes are numel x element size.
struct DenoiserMemory {
  int64_t weights = 0;      // upload_denoiser_weights: weights in the compute dtype, biases f32
  int64_t graph = 0;        // edge features, senders/receivers/offsets, two-level sum tables, fused-edge tiles, mesh node features
  int64_t activations = 0;  // embedder input rows, latents, projections, transformer and chunk scratch, partial sums, conditioning
  int64_t edge_cache = 0;   // DenoiserOptions::cache_edge_embeddings: embeddings and folded first layers
  int64_t tensors = 0;      // allocations (a backend may round each one up: CUDA to 512 bytes)
  // Elements of the largest single upload in the compute dtype: a bf16
  // backend converts an upload from a float32 copy on the device that lives
  // while it runs. Not an allocation of the denoiser, not in total().
  int64_t largest_upload = 0;
  int64_t total() const { return weights + graph + activations + edge_cache; }
};

// What a Denoiser of `config` with `sizes` and `options` allocates on a
// backend computing in `compute` (options: cache_edge_embeddings and its
// storage matter; chunk_rows and segment_split_edges are already in the
// sizes).
DenoiserMemory denoiser_memory(const ModelConfig& config, const DenoiserSizes& sizes,
                               const DenoiserOptions& options, DType compute);

// The storage of the cached edge latents: options.edge_cache_f32_storage
// when computing in f32, else the compute type.
DType edge_cache_storage(const DenoiserOptions& options, DType compute);

// Whether each edge cache also keeps an f16 copy of its folded first layer:
// with f16 latents under float32 compute (the tf32 precision), so that the
// first layer can run as an f16 x f16 GEMM (Backend::linear_takes_f16).
bool edge_cache_folded_half(const DenoiserOptions& options, DType compute);

// Whether the transformer's LayerNorm-fed projections (q|k|v and the
// feed-forward up-projection) may take f16 operands: the same precision
// (tf32: f32 compute with f16 edge latents). The Denoiser then keeps f16
// copies of those weights and an f16 [M, L] LayerNorm output, and uses them
// where Backend::linear_takes_f16 and the values fit f16 (denoiser.cpp).
bool transformer_f16_operands(const DenoiserOptions& options, DType compute);

}  // namespace gencast
