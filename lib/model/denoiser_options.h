// How a Denoiser is laid out and run (model/denoiser.h), in a header of its
// own so that the memory description (model/denoiser_memory.h) can take them
// without the Denoiser class.
#pragma once

#include <cstdint>

#include "config/run_options.h"
#include "core/dtype.h"
#include "model/attention_choice.h"

namespace gencast {

// Enough for the official schedule's 39 distinct noise levels.
inline constexpr int64_t kSigmaCacheEntries = 40;

struct DenoiserOptions {
  int64_t chunk_rows = kDefaultChunkRows;  // rows of per-edge / per-grid-node scratch tensors
  AttentionKind attention = AttentionKind::sparse;
  // Keep the edge embeddings' normalized latents (before conditioning) for the
  // whole run. They depend only on the static edge features, so each call then
  // skips the edge embedder MLPs: the conditioning is folded into the first
  // layer of the edge update instead (exact algebra, see denoiser.cpp). Costs
  // (grid2mesh + mesh2grid edges) x latent x element size of device memory.
  bool cache_edge_embeddings = false;
  // Storage of those cached latents when the compute type is float32: f32,
  // or f16 to halve the cache (PrecisionInfo::edge_cache: tf32 does). Each
  // chunk is converted back to float32 before its GEMM. Ignored for bf16
  // compute (the cache is bf16).
  DType edge_cache_f32_storage = DType::f32;
  // Receivers with more edges than this are summed in two levels: edges into
  // pieces of at most this many edges (float32 partial sums), then pieces into
  // receivers (model/segment_split.h), in the chunks that hold such receivers.
  // 64 ~ sqrt(3,753), the heaviest grid2mesh receiver at 0.25°, so that
  // neither level's longest serial sum exceeds ~64 rows (64 edges, then <= 59
  // pieces); receivers of <= 64 edges (the average is ~40) gain nothing from
  // splitting. 0 = never split.
  int64_t segment_split_edges = 64;
  // Run each edge chunk's message MLP and sum as one fused op
  // (Backend::fused_edge_mlp) where the backend has one: the per-edge
  // latents then never reach device memory. Needs the edge cache, an update
  // MLP of two layers, and segments (receivers or pieces) of at most
  // kEdgeTileRows edges (backend/edge_tiles.h); other chunks, precisions and
  // backends compose the ops. Costs a small tile table per edge set.
  // Off by default: on the H200 it is slower than the composed ops so far
  // (BENCHMARKS.md, "Fast path, round 3").
  bool fused_edges = false;
  // Noise levels whose conditioning stays on the device: the LayerNorms'
  // conditioning values and, with the edge cache, both folded first layers.
  // They depend on sigma alone, and a rollout calls the denoiser at the same
  // few levels every step (the official sampler: 20 levels, DPM-Solver++(2S)
  // midpoints, 39 distinct sigmas), so a call at a cached level does no host
  // work and no host upload -- the GPU no longer idles while the host folds
  // 2 x 512 x 512 weights and waits for its pageable uploads. Levels beyond
  // this many are computed every call, as with 0.
  int64_t sigma_cache_entries = kSigmaCacheEntries;
};

}  // namespace gencast
