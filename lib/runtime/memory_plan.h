// Up-front estimate of the device memory one forecast needs, so that
// check-config and forecast can refuse a run that cannot fit with a clear
// message instead of dying in cudaMalloc halfway through.
//
// Nothing here re-derives an allocation by hand: the denoiser's come from
// denoiser_memory() (model/denoiser_memory.h), the sampler's from
// sampler_step_bytes(), the GPU plans' from backend/plan_sizes.h. What is
// estimated is only what the grid alone cannot give exactly before the graph
// is built: edge counts, attention pairs, heaviest receivers
// (estimate_denoiser_sizes), and the GPU attention plan's tile structure.
#pragma once

#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "config/model_config.h"
#include "config/run_options.h"
#include "core/error.h"
#include "model/denoiser_memory.h"

namespace gencast {

struct MemoryEstimate {
  int64_t weights = 0;      // parameters in the compute dtype
  int64_t graph = 0;        // edge features, indices, attention structure
  int64_t activations = 0;  // denoiser scratch (latents, chunks, transformer)
  int64_t sampler = 0;      // sampler state, denoised fields, noise
  int64_t workspace = 0;    // library workspaces and slack
  int64_t edge_cache = 0;   // optional edge-embedding cache (runtime.edge_cache), not in total()
  int64_t total() const { return weights + graph + activations + sampler + workspace; }
};

// n_lat x n_lon grid, the model's sizes, the precision's element size, and
// the chunk rows the denoiser will use. Sized for the GPU backend (its plans'
// tables included), which the CPU backend's needs do not exceed.
MemoryEstimate estimate_forecast_memory(const ModelConfig& config, int64_t n_lat, int64_t n_lon,
                                        Precision precision, int64_t chunk_rows);

// The denoiser's sizes on an n_lat x n_lon equiangular grid, estimated
// without building the graph (denoiser_sizes gives them exactly from one).
// Exact: node counts, channels, mesh2grid edges (3 per grid node). Estimated
// (see memory_plan.cpp for the figures they are calibrated on): grid2mesh
// edges, attention pairs, the scratch rows when a receiver outgrows
// chunk_rows, and the two-level sums' pieces.
DenoiserSizes estimate_denoiser_sizes(const ModelConfig& config, int64_t n_lat, int64_t n_lon,
                                      const DenoiserOptions& options);

// "12.3 GB"
std::string format_bytes(double bytes);

// The estimate for `batch` members per denoiser call: the weights and the
// library workspace are shared, everything else is per member (an upper
// bound: the edge-chunk scratch does not grow with the batch).
MemoryEstimate scale_for_batch(const MemoryEstimate& one, int64_t batch);

// The estimate for `workers` workers on one device: each holds a full
// model, its scratch and its edge cache.
MemoryEstimate scale_for_workers(const MemoryEstimate& one, int64_t workers);

// runtime.batch = auto: the most members per call (at most `max_useful`, the
// members a worker will run, and at most 8: on an H200 the gain at 1° is
// already flat from 4 on, BENCHMARKS.md) whose estimate, edge cache included
// when `cache`, takes at most 80 % of `free_bytes`. 1 on the CPU (no gain) or
// when nothing fits.
int64_t choose_batch(const MemoryEstimate& one, bool cache, size_t free_bytes,
                     int64_t max_useful, bool gpu);

// Members each of `workers` workers runs at most: ceil(members / workers).
int64_t members_per_worker(int64_t members, int64_t workers);

// The batch a run uses on `backend`: `requested`, or for kBatchAuto
// choose_batch with the edge-cache rule applied to this backend's free memory.
// check-config and the forecast's workers both decide through this.
int64_t resolve_batch(int64_t requested, const MemoryEstimate& one, EdgeCache edge_cache,
                      const Backend& backend, int64_t max_useful);

// Refuses (adds a problem) when `estimate` exceeds the backend's free memory.
void check_device_memory(const Backend& backend, const MemoryEstimate& estimate,
                         ProblemList& problems);

}  // namespace gencast
