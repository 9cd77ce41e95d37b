#include "backend/plan_sizes.h"

namespace gencast {

NoisePlanSizes noise_plan_sizes(int64_t n_lat, int64_t n_lon) {
  NoisePlanSizes s;
  s.degrees = n_lon / 2;
  s.pairs = s.degrees * (s.degrees + 1) / 2;
  s.half_rows = (n_lat + 1) / 2;
  s.coefficients = s.pairs * kNoisePlanChannels;
  s.spectra = int64_t{kNoisePlanChannels} * n_lat * (s.degrees + 1) * 2;
  s.fields = int64_t{kNoisePlanChannels} * n_lat * n_lon;
  return s;
}

int64_t estimate_attention_plan_bytes(int64_t nodes, int64_t nnz, int64_t heads) {
  constexpr int64_t block = 64, mask_bytes = block * block / 8;
  const int64_t blocks = (nodes + block - 1) / block;
  const int64_t slots = blocks * block * 4;
  const int64_t tile_lists = (blocks + 1) * 4 + blocks * blocks * 2 * 4;
  constexpr int64_t kFill = 10;  // one pair in kFill of a visited mask's bits (see the header)
  const int64_t tiles = kFill * nnz / (block * block) + 1;
  const int64_t masks = tiles * mask_bytes;
  // Key groups: the slot blocks (banded, dense) or at most one per tile (sparse).
  const int64_t key_groups = tiles + blocks;
  const int64_t key_slots = key_groups * block * 4;
  const int64_t error_words = key_groups * heads * 2 * 4;
  const int64_t node_flags = (nodes * heads + 3) / 4 * 4;
  return slots + key_slots + tile_lists + masks + error_words + node_flags;
}

}  // namespace gencast
