// `gencast-run bench`: builds a model of official size with random weights
// (or loads a checkpoint) on synthetic inputs and measures what users pay:
// launch to first denoiser call, one denoiser call, one full 12 h sampler
// step, peak device memory, peak host RSS, counted FLOPs and TFLOP/s.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "config/run_options.h"
#include "graph/denoiser_graph.h"
#include "model/denoiser.h"

namespace gencast {

struct BenchOptions {
  std::string model = "1p0deg";  // preset (1p0deg, 0p25deg, mini, tiny) or a checkpoint .npz
  std::string grid;              // "" = the preset's grid; "1p0", "0p25" or "4p0"
  std::string device = "cuda:0";
  Precision precision = Precision::fp32;
  std::string attention = "auto";
  int calls = 5;                 // timed denoiser calls (after one warm-up call)
  int steps = 1;                 // timed full 12 h steps (0 = skip)
  bool graph_only = false;       // only build and time the graphs
  bool profile = false;          // time each denoiser stage (synchronizes between stages)
  int64_t chunk_rows = kDefaultChunkRows;
  int64_t batch = 1;  // members per denoiser call (graph/batch_graph.h)
  EdgeCache edge_cache = EdgeCache::automatic;
  int64_t segment_split_edges = DenoiserOptions{}.segment_split_edges;  // 0 = off
  bool fused_edges = DenoiserOptions{}.fused_edges;  // false: compose the edge ops (A/B)
  uint64_t seed = 0;
};

struct BenchResult {
  std::string model, grid, device, device_name, precision, attention;
  bool edge_cache = false;
  bool gemm_tuning = false;  // --gemm-tuning on a GPU (the first call includes the timing)
  // Edge chunks of one call that ran the fused edge MLP, of all edge chunks.
  int64_t fused_edge_chunks = 0, edge_chunks = 0;
  int64_t batch = 1;  // members per call: call and step times are for all of them
  int64_t n_grid = 0, n_mesh = 0, grid2mesh_edges = 0, mesh2grid_edges = 0, attention_pairs = 0;
  int64_t parameters = 0;
  GraphBuildTimings graph;
  double first_call_seconds = 0;      // from process start to the end of the first call
  double call_seconds_median = 0, call_seconds_min = 0;
  double step_seconds = 0;            // one 12 h step (2N-1 calls + noise + sampler updates)
  int calls_per_step = 0;
  double flops_per_call = 0, tflops = 0;
  double peak_device_bytes = 0, peak_host_rss_bytes = 0;
  std::vector<std::pair<std::string, double>> stage_seconds;  // per call, with --profile
};

BenchResult run_bench(const BenchOptions& options);

// One JSON object; and a human-readable table.
std::string bench_json(const BenchResult& r);
std::string bench_table(const BenchResult& r);

// Equiangular grid with poles named by --grid: "1p0" (181 x 360), "0p25"
// (721 x 1440) or "4p0" (46 x 90); lat -90..90, lon from 0. InputError
// (field --grid) otherwise.
void bench_grid(const std::string& name, std::vector<float>& lat, std::vector<float>& lon);

// Seconds since this process started (from /proc/self/stat).
double process_uptime_seconds();
// Peak resident set size of this process in bytes.
double peak_rss_bytes();

}  // namespace gencast
