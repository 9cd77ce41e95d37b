// The CPU backend's fused ops give exactly the result of the ops they fuse
// (same row kernel, same summation order), so the denoiser's CPU output does
// not move when it switches to them.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu_backend.h"
#include "test_tiny_model.h"

namespace gencast {
namespace {

using testing::random_uniform;

}  // namespace

TEST_CASE("cpu layer_norm_cond_segment_sum equals layer_norm_cond then segment_sum, bit for bit",
          "[backend]") {
  CpuBackend cpu;
  const int64_t C = 48;
  // Receivers with 0..9 edges, offsets starting at 5 (a chunk's sub-range).
  std::vector<int32_t> off{5};
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> deg(0, 9);
  for (int r = 0; r < 40; ++r) off.push_back(off.back() + deg(rng));
  const int64_t edges = off.back() - off.front(), rows = 40;
  const ArrayF x = random_uniform({edges, C}, 11, -3.f, 3.f);
  const ArrayF cond = random_uniform({2 * C}, 12, -1.f, 1.f);
  Tensor xt = cpu.from_host(x, DType::f32), ct = cpu.from_host(cond, DType::f32);
  Tensor ot = cpu.from_host_i32(off);

  Tensor fused = cpu.empty({rows, C}, DType::f32);
  cpu.layer_norm_cond_segment_sum(xt, ct, ot, fused);
  Tensor normalized = cpu.empty({edges, C}, DType::f32), composed = cpu.empty({rows, C}, DType::f32);
  cpu.layer_norm_cond(xt, ct, normalized, false);
  cpu.segment_sum(normalized, ot, composed);

  const ArrayF a = cpu.to_host(fused), b = cpu.to_host(composed);
  REQUIRE(a.data.size() == b.data.size());
  int64_t nonzero = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    REQUIRE(std::isfinite(a.data[i]));
    REQUIRE(a.data[i] == b.data[i]);
    nonzero += a.data[i] != 0.f;
  }
  REQUIRE(nonzero > 0);  // the comparison is not between two zero tensors
}

TEST_CASE("cpu layer_norm_cond_segment_sum rejects mismatched shapes", "[backend]") {
  CpuBackend cpu;
  Tensor x = cpu.empty({6, 8}, DType::f32), cond = cpu.empty({16}, DType::f32);
  Tensor y = cpu.empty({2, 8}, DType::f32);
  cpu.fill(x, 1.f);
  cpu.fill(cond, 0.f);
  Tensor short_offsets = cpu.from_host_i32({0, 6});
  CHECK_THROWS(cpu.layer_norm_cond_segment_sum(x, cond, short_offsets, y));
  Tensor bad_cover = cpu.from_host_i32({0, 2, 5});
  CHECK_THROWS(cpu.layer_norm_cond_segment_sum(x, cond, bad_cover, y));
  Tensor wide_cond = cpu.empty({18}, DType::f32);
  Tensor ok = cpu.from_host_i32({0, 2, 6});
  CHECK_THROWS(cpu.layer_norm_cond_segment_sum(x, wide_cond, ok, y));
  CHECK_NOTHROW(cpu.layer_norm_cond_segment_sum(x, cond, ok, y));
}

}  // namespace gencast
