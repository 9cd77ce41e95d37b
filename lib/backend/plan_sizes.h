// Device tables of the GPU backend's precomputed plans, as sizes. The memory
// plan (runtime/memory_plan.h) needs them before any backend exists; kept
// here, below kernels/, so that the CUDA backend allocates its noise plan
// from the same function. The CPU backend's plans live in host memory and
// allocate no backend tensors.
#pragma once

#include <cstdint>

namespace gencast {

// Channels a GPU noise plan synthesises per pass (the lanes of a warp).
inline constexpr int kNoisePlanChannels = 32;

// The tensors of the CUDA noise plan (kernels/sphere_noise.cuh) for an
// n_lat x n_lon equiangular grid: Legendre recurrence tables in double
// (rec_a, rec_b, scale per (l, m) pair; log_diag, log_bound per order;
// row_x, row_s per southern row), then float32 scratch reused by every call.
struct NoisePlanSizes {
  int64_t degrees = 0;    // L = n_lon / 2
  int64_t pairs = 0;      // (l, m) pairs with m <= l < L: L (L + 1) / 2
  int64_t half_rows = 0;  // southern rows with the equator: (n_lat + 1) / 2
  int64_t coefficients = 0;  // floats of z_cos and of z_sin each: pairs x channels
  int64_t spectra = 0;       // floats of the half-spectra: channels x n_lat x (L + 1) x 2
  int64_t fields = 0;        // floats of the C2R output: channels x n_lat x n_lon
  int64_t doubles() const { return 3 * pairs + 2 * degrees + 2 * half_rows; }
  int64_t bytes() const { return doubles() * 8 + (2 * coefficients + spectra + fields) * 4; }
  static constexpr int64_t kTensors = 11;
};

NoisePlanSizes noise_plan_sizes(int64_t n_lat, int64_t n_lon);

// An estimate (the tile structure is known only once built) of the CUDA
// attention plan (kernels/attention_tiles.h) for `nodes` nodes with `nnz`
// neighbour pairs, meant as a bound for every tile mode: the slot table,
// each query block's tile list with every key block indexed (dense), one
// 64 x 64 bit mask per tile that holds neighbours, taking 1/10 of a mask's
// bits as neighbours, a key group of 64 slots per such tile (sparse) or per
// block (banded, dense) and the heads' error words per key group. The
// tiles' real fill is ~13% banded at mesh 6 with 16 hops, and ~58% for the
// sparse key groups (each query block's neighbourhood union): the estimate
// bounds every layout of meshes 3, 5 and 6 (tests/unit/test_memory_plan.cpp).
int64_t estimate_attention_plan_bytes(int64_t nodes, int64_t nnz, int64_t heads);

}  // namespace gencast
