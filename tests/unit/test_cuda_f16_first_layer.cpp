// The tf32 precision's cached edge latents are stored in f16 (PrecisionInfo::
// edge_cache); their first layer runs as an f16 x f16 GEMM with float32 sums
// (Backend::linear_takes_f16) instead of converting the latents to float32
// for a TF32 GEMM. Checked here: the GEMM itself (the CPU's float32 result
// on the same f16-rounded values, to float32 summation order), and the tiny
// denoiser under tf32 against the CPU at the tf32 budget, with the f16 path
// taken, and not taken (float32 first layer, finite output) when a folded
// layer leaves f16's range.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "config/precision.h"
#include "core/half.h"
#include "devices/device_factory.h"
#include "model/denoiser.h"
#include "runtime/model_setup.h"
#include "test_cuda_util.h"
#include "test_tiny_model.h"

using namespace gencast;
using namespace gencast::test;

namespace {

ArrayF rounded_to_half(ArrayF a) {
  for (float& v : a.data) v = half_bits_to_float(float_to_half_bits(v));
  return a;
}

}  // namespace

TEST_CASE("cuda linear takes f16 operands: float32 sums of the f16 values", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  CpuBackend cpu;
  auto gpu = make_backend("cuda:0", Precision::tf32);
  REQUIRE(gpu->linear_takes_f16());
  CHECK_FALSE(cpu.linear_takes_f16());
  uint32_t seed = 61000;
  struct Shape3 { int64_t r, k, n; };
  for (const Shape3 s : {Shape3{1000, 96, 72}, Shape3{4099, 512, 512}}) {
    INFO("R " << s.r << " K " << s.k << " N " << s.n);
    const ArrayF x = rounded_to_half(random_array({s.r, s.k}, seed += 10, -3.f, 3.f));
    const ArrayF w = rounded_to_half(random_array({s.k, s.n}, seed += 10, -0.2f, 0.2f));
    const ArrayF bias = random_array({s.n}, seed += 10);
    Tensor xc = cpu.from_host(x, DType::f32), wc = cpu.from_host(w, DType::f32);
    Tensor bc = cpu.from_host(bias, DType::f32), yc = cpu.empty({s.r, s.n}, DType::f32);
    cpu.linear(xc, wc, &bc, yc, Activation::none, 1.f, 0.f);
    const ArrayF ref = cpu.to_host(yc);
    // The values are f16 exactly, so the device copies to f16 are exact.
    Tensor xf = gpu->from_host(x, DType::f32), wf = gpu->from_host(w, DType::f32);
    Tensor xh = gpu->empty({s.r, s.k}, DType::f16), wh = gpu->empty({s.k, s.n}, DType::f16);
    gpu->copy(xf, xh);
    gpu->copy(wf, wh);
    Tensor bg = gpu->from_host(bias, DType::f32);
    Tensor y = gpu->empty({s.r, s.n}, DType::f32);
    gpu->fill(y, NAN);  // a value not written stays NaN and fails
    gpu->linear(xh, wh, &bg, y);
    // Products of two 11-bit significands are exact in float32: only the
    // order of the sums differs.
    check_close("f16 x f16 -> f32 linear vs cpu", gpu->to_host(y), ref, 1e-5);
    Tensor yb = gpu->empty({s.r, s.n}, DType::bf16);
    CHECK_THROWS(gpu->linear(xh, wh, &bg, yb));  // f16 operands give float32 only
  }
}

TEST_CASE("cuda tf32 denoiser: the f16 first layer, and the float32 one beyond f16's range",
          "[cuda][denoiser]") {
  SKIP_WITHOUT_CUDA();
  const PreparedModel& model = gencast::testing::tiny_model();
  const GridInputRows rows = grid_input_rows(model.layout);
  auto cpu = make_backend("cpu", Precision::fp32);
  auto gpu = make_backend("cuda:0", Precision::tf32);
  const auto run = [&](Backend& b, const ParamStore& params, int64_t* f16_chunks) {
    DenoiserOptions options;
    options.attention = model.attention.kind;
    options.cache_edge_embeddings = true;
    options.edge_cache_f32_storage = DType::f16;  // as the tf32 precision sets it
    Denoiser d(b, model.checkpoint.config, params, model.graph, rows, options);
    d.set_conditioning(gencast::testing::random_normal({d.n_grid(), d.n_conditioning()}, 51));
    const Tensor x =
        b.from_host(gencast::testing::random_normal({d.n_grid(), d.n_targets()}, 52), DType::f32);
    Tensor out = b.empty({d.n_grid(), d.n_targets()}, DType::f32);
    b.fill(out, NAN);
    ArrayF result;
    // Two levels, the first twice: the noise-level cache's copy of the
    // folded layer (and of whether it fits f16) is used on the third call.
    for (float sigma : {1.7f, 0.4f, 1.7f}) {
      d.denoise(sigma, x, out);
      result = b.to_host(out);
      if (f16_chunks) *f16_chunks = d.f16_first_layer_chunks();
    }
    return result;
  };

  int64_t chunks = -1;
  const ArrayF ref = run(*cpu, model.checkpoint.params, nullptr);
  const ArrayF got = run(*gpu, model.checkpoint.params, &chunks);
  CHECK(chunks > 0);  // the f16 GEMM ran (every chunk of both edge sets)
  check_close("tiny denoiser, tf32 with the f16 first layer vs cpu", got, ref,
              precision_info(Precision::tf32).gpu_tolerance);

  // The grid2mesh edge update's first layer scaled past f16's range: its
  // folded copy would be Inf in f16, so that edge set keeps float32.
  ParamStore scaled = model.checkpoint.params;
  const std::string name =
      "grid2mesh_gnn/~_networks_builder/processor_edges_0_grid2mesh_mlp/~/linear_0:w";
  ArrayF w = scaled.get(name);
  float peak = 0.f;
  for (float v : w.data) peak = std::max(peak, std::fabs(v));
  REQUIRE(peak > 0.f);
  for (float& v : w.data) v *= 1e6f / peak;
  scaled.set(name, w);
  const ArrayF ref_scaled = run(*cpu, scaled, nullptr);
  int64_t scaled_chunks = -1;
  const ArrayF got_scaled = run(*gpu, scaled, &scaled_chunks);
  CHECK(scaled_chunks > 0);       // mesh2grid still runs in f16
  CHECK(scaled_chunks < chunks);  // grid2mesh does not
  check_close("tiny denoiser, tf32, grid2mesh first layer beyond f16 vs cpu", got_scaled,
              ref_scaled, precision_info(Precision::tf32).gpu_tolerance);
}
