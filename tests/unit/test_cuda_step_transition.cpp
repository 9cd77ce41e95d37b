// CUDA step transition (kernels/step_transition.cu) against the CPU op, bit
// for bit: the kernels do the CPU's float32 operations one by one (no FMA
// contraction), so any difference is a bug. Random tensors (never zeros), SST
// NaN at random nodes, random land bits, two slots of a grid with an odd
// number of longitudes, conditioning rows wider than the columns written, in
// f32 and bf16. Without a CUDA device every test prints the skip marker.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "config/stacking.h"
#include "data/step_transition_plan.h"
#include "devices/device_factory.h"
#include "io/stats.h"
#include "test_cuda_util.h"

using namespace gencast;
using namespace gencast::test;

namespace {

bool same_bits(const ArrayF& a, const ArrayF& b) {
  return a.shape == b.shape &&
         std::memcmp(a.ptr(), b.ptr(), a.data.size() * sizeof(float)) == 0;
}

int64_t differing(const ArrayF& a, const ArrayF& b) {
  int64_t n = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    n += std::memcmp(&a.data[i], &b.data[i], sizeof(float)) != 0;
  return n;
}

}  // namespace

TEST_CASE("cuda step transition equals the CPU op bit for bit", "[cuda]") {
  if (!cuda_available()) {
    print_cuda_skip();
    return;
  }
  const TaskConfig task = default_gencast_task();
  const NormalizationStats stats =
      read_stats(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny", task);
  const int64_t n_lat = 37, n_lon = 71, slots = 2, G = n_lat * n_lon, R = slots * G;
  const StepTransition plan = plan_step_transition(task, stats, n_lon);
  const StepTransitionTables& t = plan.tables;
  const int64_t T = t.n_targets(), K = t.n_conditioning(), W = K + 7;
  REQUIRE(t.land_target >= 0);
  CpuBackend cpu;
  const auto cpu_plan = cpu.plan_step_transition(t);

  for (Precision precision : {Precision::fp32, Precision::bf16}) {
    auto gpu = make_backend("cuda:0", precision);
    const DType cond_type = gpu->compute_dtype();
    INFO("conditioning " << dtype_name(cond_type));
    const auto gpu_plan = gpu->plan_step_transition(t);
    const uint32_t seed = precision == Precision::bf16 ? 900 : 800;

    // Physical fields as the model would give them: mean + stddev * U(-2, 2)
    // per target, SST NaN at random nodes.
    ArrayF physical = random_array({R, T}, seed, -2.f, 2.f);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> coin(0.f, 1.f);
    for (int64_t r = 0; r < R; ++r)
      if (coin(rng) < 0.3f)
        physical.data[static_cast<size_t>(r * T + t.land_target)] = std::numeric_limits<float>::quiet_NaN();
    ArrayF normalized = random_array({R, T}, seed + 1, -3.f, 3.f);
    ArrayF bases = random_array({R, T}, seed + 2, -50.f, 300.f);
    ArrayF land({R, 1});
    for (float& v : land.data) v = static_cast<float>(static_cast<int>(coin(rng) * 4.f));  // 0..3
    ArrayF forcings = random_array({t.forcing_rows, n_lon}, seed + 3);
    ArrayF cond = random_array({R, W}, seed + 4, -4.f, 4.f);
    if (cond_type == DType::bf16)  // values the bf16 rows can hold, so both sides start equal
      for (float& v : cond.data) v = round_to_bf16(v);

    {  // step_to_physical
      Tensor xc = cpu.from_host(normalized, DType::f32), bc = cpu.from_host(bases, DType::f32);
      Tensor lc = cpu.from_host(land, DType::f32), pc = cpu.empty({R, T}, DType::f32);
      cpu.step_to_physical(*cpu_plan, xc, bc, lc, pc);
      const ArrayF ref = cpu.to_host(pc);
      CHECK(std::count_if(ref.data.begin(), ref.data.end(), [](float v) { return std::isnan(v); }) > 0);

      Tensor xg = gpu->from_host(normalized, DType::f32), bg = gpu->from_host(bases, DType::f32);
      Tensor lg = gpu->from_host(land, DType::f32), pg = gpu->empty({R, T}, DType::f32);
      gpu->fill(pg, std::numeric_limits<float>::quiet_NaN());  // an unwritten value fails
      gpu->step_to_physical(*gpu_plan, xg, bg, lg, pg);
      const ArrayF got = gpu->to_host(pg);
      INFO(differing(got, ref) << " values differ");
      CHECK(same_bits(got, ref));
    }

    {  // step_advance
      Tensor pc = cpu.from_host(physical, DType::f32), fc = cpu.from_host(forcings, DType::f32);
      Tensor bc = cpu.from_host(bases, DType::f32), lc = cpu.from_host(land, DType::f32);
      Tensor cc = cpu.from_host(cond, DType::f32);
      cpu.step_advance(*cpu_plan, pc, fc, bc, lc, cc);
      ArrayF ref_cond = cpu.to_host(cc);
      if (cond_type == DType::bf16)
        for (float& v : ref_cond.data) v = round_to_bf16(v);

      Tensor pg = gpu->from_host(physical, DType::f32), fg = gpu->from_host(forcings, DType::f32);
      Tensor bg = gpu->empty({R, T}, DType::f32), lg = gpu->from_host(land, DType::f32);
      gpu->fill(bg, std::numeric_limits<float>::quiet_NaN());  // every base is written
      Tensor cg = gpu->from_host(cond, cond_type);
      gpu->step_advance(*gpu_plan, pg, fg, bg, lg, cg);
      const ArrayF got_bases = gpu->to_host(bg), got_land = gpu->to_host(lg);
      const ArrayF got_cond = gpu->to_host(cg);
      const ArrayF ref_bases = cpu.to_host(bc), ref_land = cpu.to_host(lc);
      INFO(differing(got_bases, ref_bases) << " bases, " << differing(got_land, ref_land)
                                           << " land bits, " << differing(got_cond, ref_cond)
                                           << " conditioning values differ");
      CHECK(same_bits(got_bases, ref_bases));
      CHECK(same_bits(got_land, ref_land));
      CHECK(same_bits(got_cond, ref_cond));
      CHECK(!same_bits(ref_cond, cond));  // the op did change the rows
    }
  }
}
