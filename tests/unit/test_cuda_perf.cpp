// Performance of every CUDA op at the model's sizes (hidden: run with
// `gencast_tests "[.cuda-perf]"`). Times come from CUDA events on the
// backend's stream (kernels/cuda_timer.h), averaged over repeated calls after
// warm-up; each line gives the achieved TFLOP/s (GEMMs, attention) or GB/s
// (memory-bound ops, counting the bytes each op must move at least once).
// Nothing is asserted beyond finite outputs: these are measurements.
#include <catch2/catch.hpp>

#if GENCAST_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "attention.cuh"
#include "attention_tiles.h"
#include "backend/backend.h"
#include "backend/edge_tiles.h"
#include "cuda_timer.h"
#include "edge_mlp.cuh"
#include "devices/device_factory.h"
#include "graph/attention_neighbourhood.h"
#include "graph/icosahedral_mesh.h"
#include "graph/mesh_order.h"
#include "test_cuda_util.h"

using namespace gencast;
using namespace gencast::test;

namespace {

constexpr int kWarmup = 3;
constexpr int kIters = 20;

double time_ms(Backend& gpu, const std::function<void()>& op) {
  for (int i = 0; i < kWarmup; ++i) op();
  cuda::CudaEventTimer timer(gpu);
  timer.start();
  for (int i = 0; i < kIters; ++i) op();
  return timer.stop_ms() / kIters;
}

void report(const std::string& what, double ms, double flops, double bytes) {
  std::printf("  %-66s %9.3f ms", what.c_str(), ms);
  if (flops > 0) std::printf("  %7.1f TFLOP/s", flops / (ms * 1e-3) / 1e12);
  if (bytes > 0) std::printf("  %7.0f GB/s", bytes / (ms * 1e-3) / 1e9);
  std::printf("\n");
  std::fflush(stdout);
}

Tensor random_tensor(Backend& gpu, const Shape& shape, DType t, uint32_t seed, float amp = 1.f) {
  return gpu.from_host(random_array(shape, seed, -amp, amp), t);
}

}  // namespace

TEST_CASE("cuda op performance at model sizes", "[.cuda-perf]") {
  if (!cuda_available()) {
    print_cuda_skip();
    return;
  }
  std::printf("device: %s\n", make_backend("cuda:0", Precision::fp32)->device_name().c_str());

  SECTION("linear") {
    struct Shape3 { int64_t R, K, N; Activation act; };
    const Shape3 shapes[] = {{40962, 512, 512, Activation::none},
                             {40962, 512, 2048, Activation::gelu},
                             {40962, 2048, 512, Activation::none},
                             {40962, 512, 1536, Activation::none},
                             {1038240, 267, 512, Activation::swish}};
    for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
      auto gpu = make_backend("cuda:0", p);
      const DType t = gpu->compute_dtype();
      for (const auto& s : shapes) {
        Tensor x = random_tensor(*gpu, {s.R, s.K}, t, 1);
        Tensor w = random_tensor(*gpu, {s.K, s.N}, t, 2, 0.05f);
        Tensor b = random_tensor(*gpu, {s.N}, DType::f32, 3);
        Tensor y = gpu->empty({s.R, s.N}, t);
        const double ms = time_ms(*gpu, [&] { gpu->linear(x, w, &b, y, s.act, 1.f, 0.f); });
        char label[128];
        std::snprintf(label, sizeof label, "linear %s R=%lld K=%lld N=%lld act=%d",
                      precision_name(p), (long long)s.R, (long long)s.K, (long long)s.N,
                      int(s.act));
        report(label, ms, 2.0 * double(s.R) * double(s.K) * double(s.N), 0);
      }
    }
  }

  SECTION("memory-bound ops") {
    auto gpu = make_backend("cuda:0", Precision::bf16);
    for (DType t : {DType::f32, DType::bf16}) {
      const double es = double(dtype_size(t));
      const std::string tn = dtype_name(t);
      {
        const int64_t R = 40962, C = 512;
        Tensor x = random_tensor(*gpu, {R, C}, t, 4), y = gpu->empty({R, C}, t);
        Tensor cond = random_tensor(*gpu, {2 * C}, DType::f32, 5);
        const double ms = time_ms(*gpu, [&] { gpu->layer_norm_cond(x, cond, y, false); });
        report("layer_norm_cond " + tn + " 40962x512", ms, 0, 2.0 * double(R * C) * es);
      }
      {
        const int64_t E = 1000000, C = 512, nodes = 40962;
        Tensor a = random_tensor(*gpu, {nodes, C}, t, 6), b = random_tensor(*gpu, {nodes, C}, t, 7);
        Tensor y = random_tensor(*gpu, {E, C}, t, 8);
        std::mt19937 rng(9);
        std::vector<int32_t> ia(E), ib(E);
        for (auto& v : ia) v = int32_t(rng() % nodes);
        for (auto& v : ib) v = int32_t(rng() % nodes);
        Tensor iag = gpu->from_host_i32(ia), ibg = gpu->from_host_i32(ib);
        const double ms =
            time_ms(*gpu, [&] { gpu->gather2_add_act(a, iag, b, ibg, y, Activation::swish); });
        report("gather2_add_act swish " + tn + " E=1M C=512", ms, 0, 4.0 * double(E * C) * es);
      }
      {
        const int64_t nodes = 40962, C = 512;
        std::vector<int32_t> off{0};
        std::mt19937 rng(10);
        for (int64_t r = 0; r < nodes; ++r) off.push_back(off.back() + 15 + int32_t(rng() % 20));
        const int64_t E = off.back();
        Tensor x = random_tensor(*gpu, {E, C}, t, 11), og = gpu->from_host_i32(off);
        Tensor y = gpu->empty({nodes, C}, DType::f32);
        const double ms = time_ms(*gpu, [&] { gpu->segment_sum(x, og, y); });
        report("segment_sum " + tn + "->f32 E=" + std::to_string(E) + " C=512", ms, 0,
               double(E * C) * es + double(nodes * C) * 4);
      }
      {
        const int64_t n = 1038240 * 84;  // one 0.25-degree state
        Tensor x = random_tensor(*gpu, {n}, t, 12), y = random_tensor(*gpu, {n}, DType::f32, 13);
        Tensor o = gpu->empty({n}, DType::f32);
        const double ms = time_ms(*gpu, [&] { gpu->axpby(0.5f, x, 2.f, y, o); });
        report("axpby " + tn + "+f32->f32 n=87M", ms, 0, double(n) * (es + 8));
        Tensor c = gpu->empty({n}, t == DType::f32 ? DType::bf16 : DType::f32);
        const double ms2 = time_ms(*gpu, [&] { gpu->copy(x, c); });
        report("copy (convert) from " + tn + " n=87M", ms2, 0, double(n) * (es + double(dtype_size(c.dtype()))));
      }
    }
  }

  SECTION("attention on the 0.25-degree mesh (level 6, 16 hops)") {
    const TriMesh mesh = icosahedral_mesh(6);
    const TriMesh banded = permute_mesh(mesh, reverse_cuthill_mckee(mesh));
    const Csr khop = k_hop_neighbourhood(mesh_adjacency(banded), 16);
    const int heads = 4, head_dim = 128;
    const int64_t n = khop.rows(), hd = heads * head_dim;
    std::printf("  mesh nodes %lld, neighbour pairs %lld (%.0f per node)\n", (long long)n,
                (long long)khop.nnz(), double(khop.nnz()) / double(n));
    // The kernels: SIMT float32 arithmetic on f32 or bf16 storage (an fp32
    // backend runs the SIMT kernel whatever the storage type), and the
    // tensor-core kernel of the tf32 and bf16 precisions. One attention call
    // per transformer layer, so ms per call = ms per layer.
    // "flash bf16" is the mma.sync kernel, "wgmma bf16" the Hopper one (the
    // default there; elsewhere it falls back to the flash kernel).
    struct Variant { const char* name; Precision precision; DType storage; bool wgmma; };
    const Variant variants[] = {{"simt f32", Precision::fp32, DType::f32, false},
                                {"simt bf16-storage", Precision::fp32, DType::bf16, false},
                                {"mma tf32", Precision::tf32, DType::f32, false},
                                {"flash bf16", Precision::bf16, DType::bf16, false},
                                {"wgmma bf16", Precision::bf16, DType::bf16, true}};
    // Useful work only: q.k and p.v over the neighbour pairs, 2 flops per multiply-add.
    const double flops = 4.0 * double(khop.nnz()) * heads * head_dim;
    double sparse_ms[5] = {0, 0, 0, 0, 0};
    for (int v = 0; v < 5; ++v) {
      const Variant& var = variants[v];
      cuda::set_attention_wgmma(var.wgmma);
      auto gpu = make_backend("cuda:0", var.precision);
      Tensor qkv = random_tensor(*gpu, {n, 3 * hd}, var.storage, 14, 2.f);
      Tensor out = gpu->empty({n, hd}, var.storage);
      for (AttentionTiles mode : {AttentionTiles::sparse, AttentionTiles::banded, AttentionTiles::dense}) {
        auto plan = gpu->plan_attention(khop, heads, head_dim, mode);
        const double ms = time_ms(*gpu, [&] { gpu->attention(*plan, qkv, out); });
        if (mode == AttentionTiles::sparse) sparse_ms[v] = ms;
        const auto layout = cuda::build_attention_tiles(khop, mode);
        const double fill = double(khop.nnz()) / (double(layout.tiles()) * 64.0 * 64.0);
        report(std::string("attention ") + var.name + " tiles=" + cuda::attention_tiles_name(mode) +
                   " (" + std::to_string(layout.tiles()) + " tiles, fill " +
                   std::to_string(fill).substr(0, 5) + ")",
               ms, flops, 0);
      }
      const ArrayF host = gpu->to_host(out);
      for (float x : host.data) REQUIRE(std::isfinite(x));
    }
    cuda::set_attention_wgmma(true);
    std::printf("  attention per layer, sparse tiles: simt f32 %.3f ms, simt bf16-storage %.3f ms,"
                " mma tf32 %.3f ms (%.1fx simt f32), flash bf16 %.3f ms (%.1fx simt bf16-storage),"
                " wgmma bf16 %.3f ms (%.2fx flash bf16); x16 layers = %.1f ms per denoiser call"
                " at bf16\n",
                sparse_ms[0], sparse_ms[1], sparse_ms[2], sparse_ms[0] / sparse_ms[2], sparse_ms[3],
                sparse_ms[1] / sparse_ms[3], sparse_ms[4], sparse_ms[3] / sparse_ms[4],
                16 * sparse_ms[4]);
    std::fflush(stdout);
  }

  SECTION("edge MLP: fused kernel vs the composed ops (0.25-degree chunk shapes)") {
    // One denoiser edge chunk: x [E, 512] @ w0, gather + swish, @ w1, then
    // LayerNorm + conditioning summed per segment. mesh2grid: 43,690 grid
    // nodes of 3 edges (131,070 edges); grid2mesh-like: 3,300 receivers of
    // 10..64 edges (pieces). FLOPs: the two GEMMs.
    auto gpu = make_backend("cuda:0", Precision::bf16);
    const int64_t C = 512;
    struct Case { const char* name; std::vector<int32_t> offsets; };
    std::vector<Case> cases;
    {
      std::vector<int32_t> m2g{0};
      for (int i = 0; i < 43690; ++i) m2g.push_back(m2g.back() + 3);
      std::vector<int32_t> g2m{0};
      std::mt19937 rng(21);
      for (int i = 0; i < 3300; ++i) g2m.push_back(g2m.back() + 10 + int32_t(rng() % 55));
      cases.push_back({"mesh2grid", m2g});
      cases.push_back({"grid2mesh-like", g2m});
    }
    for (const Case& c : cases) {
      const int64_t E = c.offsets.back(), S = int64_t(c.offsets.size()) - 1;
      const int64_t n_send = 40962, n_recv = 1038240;
      Tensor x = random_tensor(*gpu, {E, C}, DType::bf16, 31);
      Tensor w0 = random_tensor(*gpu, {C, C}, DType::bf16, 32, 0.044f);
      Tensor w1 = random_tensor(*gpu, {C, C}, DType::bf16, 33, 0.044f);
      Tensor b0 = random_tensor(*gpu, {C}, DType::f32, 34), b1 = random_tensor(*gpu, {C}, DType::f32, 35);
      Tensor cond = random_tensor(*gpu, {2 * C}, DType::f32, 36);
      Tensor sp = random_tensor(*gpu, {n_send, C}, DType::bf16, 37);
      Tensor rp = random_tensor(*gpu, {std::min(n_recv, S + 1), C}, DType::bf16, 38);
      std::mt19937 rng(39);
      std::vector<int32_t> snd(static_cast<size_t>(E)), rcv(static_cast<size_t>(E));
      for (int64_t s = 0; s < S; ++s)
        for (int32_t e = c.offsets[s]; e < c.offsets[s + 1]; ++e) {
          snd[e] = int32_t(rng() % n_send);
          rcv[e] = int32_t(s);
        }
      Tensor sg = gpu->from_host_i32(snd), rg = gpu->from_host_i32(rcv);
      Tensor og = gpu->from_host_i32(c.offsets);
      Tensor tiles = gpu->from_host_i32(*plan_edge_tiles(c.offsets, kEdgeTileRows));
      Tensor a = gpu->empty({E, C}, DType::bf16), h = gpu->empty({E, C}, DType::bf16);
      Tensor y = gpu->empty({S, C}, DType::bf16);
      const double flops = 2.0 * 2.0 * double(E) * double(C) * double(C);
      const double composed = time_ms(*gpu, [&] {
        gpu->linear(x, w0, &b0, a, Activation::none, 1.f, 0.f);
        gpu->gather2_add_act(sp, sg, rp, rg, a, Activation::swish);
        gpu->linear(a, w1, &b1, h, Activation::none, 1.f, 0.f);
        gpu->layer_norm_cond_segment_sum(h, cond, og, y);
      });
      report(std::string("edge MLP composed ") + c.name + " E=" + std::to_string(E), composed,
             flops, 0);
      const Backend::EdgeMlpOperands op{x, w0, b0, sp, sg, rp, rg, w1, b1, cond, og, tiles};
      for (int variant : {1, 2}) {  // kernels/edge_mlp.cuh's shapes
        cuda::set_edge_mlp_variant(variant);
        bool ran = true;
        const double fused = time_ms(*gpu, [&] { ran = gpu->fused_edge_mlp(op, y) && ran; });
        cuda::set_edge_mlp_variant(0);
        REQUIRE(ran);
        report(std::string("edge MLP fused v") + std::to_string(variant) + " " + c.name +
                   " E=" + std::to_string(E),
               fused, flops, 0);
        std::printf("  edge MLP %s: fused v%d %.3f ms vs composed %.3f ms (%.2fx)\n", c.name,
                    variant, fused, composed, composed / fused);
        for (float v : gpu->to_host(y).data) REQUIRE(std::isfinite(v));
      }
    }
  }

  SECTION("sphere noise") {
    auto gpu = make_backend("cuda:0", Precision::fp32);
    for (auto [n_lat, n_lon] : {std::pair<int64_t, int64_t>{181, 360}, {721, 1440}}) {
      auto plan = gpu->plan_noise(n_lat, n_lon);
      std::vector<NoiseKey> keys;
      for (uint32_t c = 0; c < 84; ++c) keys.push_back({42, 0, 1, c});
      Tensor out = gpu->empty({n_lat * n_lon, 84}, DType::f32);
      const double ms = time_ms(*gpu, [&] { gpu->sphere_noise(*plan, keys, out); });
      report("sphere_noise 84 channels " + std::to_string(n_lat) + "x" + std::to_string(n_lon), ms,
             0, 0);
    }
  }
}

#endif  // GENCAST_WITH_CUDA
