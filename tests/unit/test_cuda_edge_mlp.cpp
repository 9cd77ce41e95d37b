// The fused edge MLP (Backend::fused_edge_mlp, kernels/edge_mlp.cu) against
// its CPU reference, the four ops it replaces composed on the CPU backend
// (linear, gather2_add_act with swish, linear, layer_norm_cond_segment_sum),
// on fresh random inputs; and the tiny denoiser on the GPU with the fused
// path on and off.
//
// Budget 2e-2 (bf16, as test_cuda_parity.cpp): the kernel's operands are
// bf16 (x, weights, projections, the first layer's output), everything else
// float32. Outputs are poisoned with NaN first, so an unwritten row fails.
// Without a CUDA device every test prints the skip marker and returns.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "backend/edge_tiles.h"
#include "devices/device_factory.h"
#include "model/denoiser.h"
#include "runtime/model_setup.h"
#include "test_cuda_util.h"
#include "test_tiny_model.h"

#if GENCAST_WITH_CUDA
#include "edge_mlp.cuh"
#endif

using namespace gencast;
using namespace gencast::test;

namespace {

// The kernel shapes to test (edge_mlp.cuh's development knob); 0 = default.
std::vector<int> kernel_variants() {
#if GENCAST_WITH_CUDA
  return {1, 2};
#else
  return {0};
#endif
}

void use_variant(int variant) {
#if GENCAST_WITH_CUDA
  cuda::set_edge_mlp_variant(variant);
#else
  (void)variant;
#endif
}

constexpr double kBf16Tolerance = 2e-2;

// Segment degrees in [0, kEdgeTileRows] (the kernel's limit, reached by some),
// about a tenth of them empty, from `base`.
std::vector<int32_t> random_segments(int64_t segments, uint32_t seed, int32_t base) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> deg(1, static_cast<int>(kEdgeTileRows));
  std::bernoulli_distribution empty(0.1), full(0.05);
  std::vector<int32_t> off{base};
  for (int64_t s = 0; s < segments; ++s) {
    const int d = empty(rng) ? 0 : full(rng) ? static_cast<int>(kEdgeTileRows) : deg(rng);
    off.push_back(off.back() + d);
  }
  return off;
}

struct EdgeMlpInputs {
  ArrayF x, w0, b0, sp, rp, w1, b1, cond;
  std::vector<int32_t> senders, receivers, offsets;
};

EdgeMlpInputs random_inputs(int64_t C, int64_t segments, int32_t base, uint32_t seed) {
  EdgeMlpInputs in;
  in.offsets = random_segments(segments, seed, base);
  const int64_t E = in.offsets.back() - in.offsets.front();
  const int64_t ns = 301, nr = 203;
  // Weights ~ U(-1,1)/sqrt(C) keep the layers' outputs O(1), as trained ones do.
  const float ws = 1.f / std::sqrt(static_cast<float>(C));
  in.x = random_array({E, C}, seed + 1);
  in.w0 = random_array({C, C}, seed + 2, -ws, ws);
  in.b0 = random_array({C}, seed + 3);
  in.sp = random_array({ns, C}, seed + 4);
  in.rp = random_array({nr, C}, seed + 5);
  in.w1 = random_array({C, C}, seed + 6, -ws, ws);
  in.b1 = random_array({C}, seed + 7);
  in.cond = random_array({2 * C}, seed + 8);
  std::mt19937 rng(seed + 9);
  for (int64_t e = 0; e < E; ++e) {
    in.senders.push_back(static_cast<int32_t>(rng() % ns));
    in.receivers.push_back(static_cast<int32_t>(rng() % nr));
  }
  return in;
}

// The CPU composition: what the denoiser runs without the fused op.
ArrayF cpu_reference(const EdgeMlpInputs& in) {
  CpuBackend cpu;
  const int64_t E = in.x.dim(0), C = in.x.dim(1);
  const int64_t S = static_cast<int64_t>(in.offsets.size()) - 1;
  Tensor x = cpu.from_host(in.x, DType::f32), w0 = cpu.from_host(in.w0, DType::f32);
  Tensor b0 = cpu.from_host(in.b0, DType::f32), w1 = cpu.from_host(in.w1, DType::f32);
  Tensor b1 = cpu.from_host(in.b1, DType::f32), cond = cpu.from_host(in.cond, DType::f32);
  Tensor sp = cpu.from_host(in.sp, DType::f32), rp = cpu.from_host(in.rp, DType::f32);
  Tensor snd = cpu.from_host_i32(in.senders), rcv = cpu.from_host_i32(in.receivers);
  Tensor off = cpu.from_host_i32(in.offsets);
  Tensor a = cpu.empty({E, C}, DType::f32), h = cpu.empty({E, C}, DType::f32);
  Tensor y = cpu.empty({S, C}, DType::f32);
  cpu.linear(x, w0, &b0, a, Activation::none, 1.f, 0.f);
  cpu.gather2_add_act(sp, snd, rp, rcv, a, Activation::swish);
  cpu.linear(a, w1, &b1, h, Activation::none, 1.f, 0.f);
  cpu.layer_norm_cond_segment_sum(h, cond, off, y);
  return cpu.to_host(y);
}

// The fused op on `gpu`; false when the backend declined.
bool gpu_fused(Backend& gpu, const EdgeMlpInputs& in, DType ty, ArrayF& out) {
  const int64_t C = in.x.dim(1);
  const int64_t S = static_cast<int64_t>(in.offsets.size()) - 1;
  const DType t = gpu.compute_dtype();
  Tensor x = gpu.from_host(in.x, t), w0 = gpu.from_host(in.w0, t), w1 = gpu.from_host(in.w1, t);
  Tensor sp = gpu.from_host(in.sp, t), rp = gpu.from_host(in.rp, t);
  Tensor b0 = gpu.from_host(in.b0, DType::f32), b1 = gpu.from_host(in.b1, DType::f32);
  Tensor cond = gpu.from_host(in.cond, DType::f32);
  Tensor snd = gpu.from_host_i32(in.senders), rcv = gpu.from_host_i32(in.receivers);
  Tensor off = gpu.from_host_i32(in.offsets);
  const auto plan = plan_edge_tiles(in.offsets, kEdgeTileRows);
  REQUIRE(plan.has_value());
  Tensor tiles = gpu.from_host_i32(*plan);
  Tensor y = gpu.empty({S, C}, ty);
  gpu.fill(y, NAN);
  const Backend::EdgeMlpOperands op{x, w0, b0, sp, snd, rp, rcv, w1, b1, cond, off, tiles};
  if (!gpu.fused_edge_mlp(op, y)) return false;
  out = gpu.to_host(y);
  return true;
}

}  // namespace

TEST_CASE("cuda fused edge MLP matches the composed CPU ops", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto gpu = make_backend("cuda:0", Precision::bf16);
  uint32_t seed = 31000;
  // C = 32 (the test model's latent) and 512 (official); 400 segments of up
  // to 64 edges are ~200 tiles, more than one per CTA on any GPU of <= 132
  // SMs (the persistent loop and the weight ring across tiles); offsets
  // starting above 0 as the denoiser's chunk views do.
  for (int variant : kernel_variants())
    for (int64_t C : {32, 512})
      for (DType ty : {DType::bf16, DType::f32})
        for (int32_t base : {0, 1234}) {
          seed += 20;
          const EdgeMlpInputs in = random_inputs(C, 400, base, seed);
          const ArrayF ref = cpu_reference(in);
          ArrayF got;
          use_variant(variant);
          const bool ran = gpu_fused(*gpu, in, ty, got);
          use_variant(0);
          REQUIRE(ran);
          std::ostringstream s;
          s << "fused_edge_mlp variant " << variant << " C=" << C << " edges=" << in.x.dim(0)
            << " y=" << dtype_name(ty) << " offsets[0]=" << base;
          check_close(s.str(), got, ref, kBf16Tolerance);
          // Empty segments sum to exactly zero.
          for (size_t seg = 0; seg + 1 < in.offsets.size(); ++seg)
            if (in.offsets[seg] == in.offsets[seg + 1])
              for (int64_t c = 0; c < C; ++c)
                REQUIRE(got.data[seg * static_cast<size_t>(C) + static_cast<size_t>(c)] == 0.f);
        }
}

TEST_CASE("cuda fused edge MLP: a broken sender index gives NaN in its segment only", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto gpu = make_backend("cuda:0", Precision::bf16);
  EdgeMlpInputs in = random_inputs(512, 60, 0, 32000);
  // The first edge of the first non-empty segment points past the senders.
  size_t seg = 0;
  while (in.offsets[seg] == in.offsets[seg + 1]) ++seg;
  in.senders[static_cast<size_t>(in.offsets[seg])] = 301;
  ArrayF got;
  REQUIRE(gpu_fused(*gpu, in, DType::bf16, got));
  const int64_t C = 512;
  for (size_t s = 0; s + 1 < in.offsets.size(); ++s)
    for (int64_t c = 0; c < C; ++c) {
      const float v = got.data[s * static_cast<size_t>(C) + static_cast<size_t>(c)];
      INFO("segment " << s << " column " << c);
      REQUIRE((s == seg ? std::isnan(v) : std::isfinite(v)));
    }
}

TEST_CASE("cuda fused edge MLP: declined where no kernel fits (fp32, CPU, other widths)",
          "[cuda]") {
  SKIP_WITHOUT_CUDA();
  const EdgeMlpInputs in = random_inputs(512, 20, 0, 33000);
  ArrayF got;
  auto fp32 = make_backend("cuda:0", Precision::fp32);
  CHECK_FALSE(gpu_fused(*fp32, in, DType::f32, got));
  CpuBackend cpu;
  CHECK_FALSE(gpu_fused(cpu, in, DType::f32, got));
  auto bf16 = make_backend("cuda:0", Precision::bf16);
  CHECK_FALSE(gpu_fused(*bf16, random_inputs(64, 20, 0, 33100), DType::bf16, got));
}

TEST_CASE("cuda fused edge MLP: the tiny denoiser agrees with the composed ops", "[cuda][denoiser]") {
  // bf16 on the GPU, fused path on and off, with default chunks and with
  // small ones whose sums are split into pieces (the fused op then writes
  // float32 partial sums per piece). The tiny latent is 32: the C = 32 kernel.
  SKIP_WITHOUT_CUDA();
  const PreparedModel& model = gencast::testing::tiny_model();
  const GridInputRows rows = grid_input_rows(model.layout);
  auto gpu = make_backend("cuda:0", Precision::bf16);
  const auto run = [&](bool fused, int64_t chunk_rows, int64_t split, int64_t* fused_chunks,
                       int64_t* chunks) {
    DenoiserOptions options;
    options.cache_edge_embeddings = true;
    options.fused_edges = fused;
    options.chunk_rows = chunk_rows;
    options.segment_split_edges = split;
    options.attention = model.attention.kind;
    Denoiser d(*gpu, model.checkpoint.config, model.checkpoint.params, model.graph, rows, options);
    d.set_conditioning(gencast::testing::random_normal({d.n_grid(), d.n_conditioning()}, 41));
    const Tensor x =
        gpu->from_host(gencast::testing::random_normal({d.n_grid(), d.n_targets()}, 42), DType::f32);
    Tensor out = gpu->empty({d.n_grid(), d.n_targets()}, DType::f32);
    gpu->fill(out, NAN);
    d.denoise(1.7f, x, out);
    *fused_chunks = d.fused_edge_chunks();
    *chunks = d.edge_chunks();
    return gpu->to_host(out);
  };
  for (auto [chunk_rows, split] : {std::pair<int64_t, int64_t>{kDefaultChunkRows, 64}, {1000, 4},
                                   {1000, 2}}) {
    INFO("chunk rows " << chunk_rows << ", split " << split);
    int64_t fused = 0, chunks = 0;
    const ArrayF composed = run(false, chunk_rows, split, &fused, &chunks);
    CHECK(fused == 0);
    const ArrayF with_fused = run(true, chunk_rows, split, &fused, &chunks);
    CHECK(fused == chunks);  // every chunk's segments fit a tile here
    check_close("tiny denoiser, fused vs composed edge MLP", with_fused, composed, kBf16Tolerance);
  }
}
