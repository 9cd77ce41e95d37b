// Up-front estimate of the device memory one forecast needs, so that
// check-config and forecast can refuse a run that cannot fit with a clear
// message instead of dying in cudaMalloc halfway through.
#pragma once

#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "config/model_config.h"

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
// the chunk rows the denoiser will use.
MemoryEstimate estimate_forecast_memory(const ModelConfig& config, int64_t n_lat, int64_t n_lon,
                                        Precision precision, int64_t chunk_rows);

// "12.3 GB"
std::string format_bytes(double bytes);

}  // namespace gencast
