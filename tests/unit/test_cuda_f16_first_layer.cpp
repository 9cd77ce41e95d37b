// The tf32 precision's cached edge latents are stored in f16 (PrecisionInfo::
// edge_cache); their first layer runs as an f16 x f16 GEMM with float32 sums
// (Backend::linear_takes_f16) instead of converting the latents to float32
// for a TF32 GEMM. Checked here: the GEMM itself (the CPU's float32 result
// on the same f16-rounded values, to float32 summation order), and the tiny
// denoiser under tf32 against the CPU at the tf32 budget, with the f16 path
// taken, and not taken (float32 first layer, finite output) when a folded
// layer leaves f16's range. The same precision's transformer q|k|v and
// up-projection GEMMs read f16 LayerNorm outputs and f16 weights: the
// LayerNorm with an f16 output against the CPU, the denoiser with them taken,
// and not taken (float32, finite, within budget) when a noise level's
// conditioning bound or a block's weights leave f16's range.
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
  const auto run = [&](Backend& b, const ParamStore& params, int64_t* f16_chunks,
                       int64_t* f16_gemms = nullptr) {
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
      if (f16_gemms) *f16_gemms = d.f16_transformer_gemms();
    }
    return result;
  };

  int64_t chunks = -1, gemms = -1;
  const int64_t layers = model.checkpoint.config.denoiser.sparse_transformer_config.num_layers;
  const ArrayF ref = run(*cpu, model.checkpoint.params, nullptr);
  const ArrayF got = run(*gpu, model.checkpoint.params, &chunks, &gemms);
  CHECK(chunks > 0);  // the f16 GEMM ran (every chunk of both edge sets)
  CHECK(gemms == 2 * layers);  // q|k|v and the up-projection of every block, in f16
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

  // A noise level whose transformer LayerNorm could exceed f16: block 0's
  // feed-forward conditioning offsets feature 0 by 4e4 (the bound
  // sqrt(L) |1 + scale| + |offset| passes 2^15), so no block takes f16 at any
  // level (the flag is per noise level, for all blocks).
  const std::string block0 = "mesh_transformer/~/transformer/block_00/";
  ParamStore offset = model.checkpoint.params;
  const std::string cond_b = block0 + "block_00_norm_conditioning_1/linear:b";
  REQUIRE(offset.contains(cond_b));
  ArrayF cb = offset.get(cond_b);
  cb.data[cb.data.size() / 2] += 4e4f;  // [scale | offset]: offset of feature 0
  offset.set(cond_b, cb);
  int64_t offset_gemms = -1;
  const ArrayF got_offset = run(*gpu, offset, nullptr, &offset_gemms);
  CHECK(offset_gemms == 0);
  check_close("tiny denoiser, tf32, a LayerNorm beyond f16 vs cpu", got_offset,
              run(*cpu, offset, nullptr), precision_info(Precision::tf32).gpu_tolerance);

  // Block 1's up-projection weights beyond f16's range: that block keeps
  // float32 for both its GEMMs, the others take f16.
  ParamStore big = model.checkpoint.params;
  const std::string up_w = "mesh_transformer/~/transformer/block_01/ffw_up:w";
  REQUIRE(big.contains(up_w));
  ArrayF uw = big.get(up_w);
  uw.data[0] = 1e5f;
  big.set(up_w, uw);
  int64_t big_gemms = -1;
  const ArrayF got_big = run(*gpu, big, nullptr, &big_gemms);
  CHECK(big_gemms == 2 * (layers - 1));
  check_close("tiny denoiser, tf32, a weight beyond f16 vs cpu", got_big, run(*cpu, big, nullptr),
              precision_info(Precision::tf32).gpu_tolerance);
}

TEST_CASE("cuda layer_norm_cond writes f16 from float32: the CPU's values rounded to f16",
          "[cuda]") {
  SKIP_WITHOUT_CUDA();
  CpuBackend cpu;
  auto gpu = make_backend("cuda:0", Precision::tf32);
  uint32_t seed = 62000;
  for (const int64_t cols : {512, 40, 1536}) {  // the register kernel, odd widths, the wide one
    INFO("cols " << cols);
    const int64_t rows = 333;
    const ArrayF x = random_array({rows, cols}, seed += 10, -4.f, 4.f);
    const ArrayF cond = random_array({2 * cols}, seed += 10, -1.f, 1.f);
    Tensor xc = cpu.from_host(x, DType::f32), cc = cpu.from_host(cond, DType::f32);
    Tensor yc = cpu.empty({rows, cols}, DType::f32);
    cpu.layer_norm_cond(xc, cc, yc, false);
    const ArrayF ref = rounded_to_half(cpu.to_host(yc));
    Tensor xg = gpu->from_host(x, DType::f32), cg = gpu->from_host(cond, DType::f32);
    Tensor yh = gpu->empty({rows, cols}, DType::f16);
    gpu->layer_norm_cond(xg, cg, yh, false);
    Tensor yf = gpu->empty({rows, cols}, DType::f32);
    gpu->fill(yf, NAN);  // a value not written stays NaN and fails
    gpu->copy(yh, yf);
    // Both round the same float32 function to f16; the last float32 bits
    // may differ (summation order) and move a rounding by one f16 ulp.
    check_close("layer_norm_cond f32 -> f16 vs cpu rounded", gpu->to_host(yf), ref, 1e-3);
    Tensor acc = gpu->empty({rows, cols}, DType::f16);
    CHECK_THROWS(gpu->layer_norm_cond(xg, cg, acc, true));  // no accumulating into f16
  }
}
