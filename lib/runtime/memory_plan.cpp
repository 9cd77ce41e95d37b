#include "runtime/memory_plan.h"

#include <algorithm>
#include <cstdio>

#include "model/denoiser_weights.h"
#include "model/param_schema.h"

namespace gencast {

MemoryEstimate estimate_forecast_memory(const ModelConfig& config, int64_t n_lat, int64_t n_lon,
                                        Precision precision, int64_t chunk_rows) {
  const int64_t elem = precision == Precision::bf16 ? 2 : 4;
  const int64_t G = n_lat * n_lon;
  const int64_t s = config.denoiser.mesh_size;
  int64_t M = 10;
  for (int64_t i = 0; i < s; ++i) M *= 4;
  M += 2;  // vertices of an icosahedron refined s times
  const auto& tc = config.denoiser.sparse_transformer_config;
  const int64_t k = tc.attention_k_hop;
  // A k-hop disc on the (mostly hexagonal) mesh holds about 3k^2 + 3k + 1 nodes.
  const int64_t nnz = M * std::min<int64_t>(M, 3 * k * k + 3 * k + 1);
  // Every grid point has one containing triangle (3 edges) and, with the
  // reference's radius of 0.6 edge lengths, about 1.6 radius edges.
  const int64_t e_g2m = G * 8 / 5, e_m2g = 3 * G;
  const int64_t L = config.denoiser.latent_size, F = tc.ffw_hidden;
  const int64_t T = node_output_size(config.task);
  const int64_t cond_in = grid_node_input_size(config.task) - T;  // conditioning + structural
  const int64_t C = std::max(std::min(chunk_rows, std::max(G, e_m2g)), int64_t{1});
  // The grid embedder's input rows [static | noisy targets], each block
  // zero-padded; set_conditioning uploads at most C of them at a time, and a
  // bf16 upload converts from a transient float32 copy.
  const int64_t embed_in = grid_embed_input_width(cond_in, T);
  const int64_t staging = std::min(C, G) * embed_in * 4;

  MemoryEstimate e;
  int64_t params = 0;
  for (const auto& [name, shape] : expected_param_shapes(config)) params += shape_numel(shape);
  e.weights = params * elem;
  e.graph = (e_g2m + e_m2g) * (4 * elem + 8) + (G + M + 2) * 4 + M * 3 * elem +
            nnz / 8 + nnz / 4096 * 64;  // bit masks and tile lists of the attention plan
  // Grid latents and grid projections, [G, L] each, and the grid embedder's
  // input rows [G, embed_in].
  e.activations = 2 * G * L * elem + G * embed_in * elem + staging +
                  (6 * M * L + 3 * M * L + M * F) * elem +
                  3 * C * L * elem + C * T * elem +
                  (e_g2m / 64 + M) * L * 4;  // float32 partial sums of the two-level segment sums
  // x, two denoised fields, scratch, noise, host staging; the noise plan's
  // coefficient tables, spectra and FFT output for 32 channels at a time.
  const int64_t l_max = n_lat;  // degrees of the noise synthesis (n_lat - 1), rounded up
  e.sampler = 6 * G * T * 4 + 32 * (l_max * (l_max + 1) + 2 * n_lat * (l_max + 1) + G) * 4;
  e.workspace = 64ll << 20;
  e.edge_cache = (e_g2m + e_m2g) * L * elem;
  return e;
}

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1e9) std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  else if (bytes >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f kB", bytes / 1e3);
  return buf;
}

}  // namespace gencast
