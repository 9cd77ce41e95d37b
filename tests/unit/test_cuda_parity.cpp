// CPU-vs-CUDA parity of every backend op, as a table of cases per op (like
// ggml's test-backend-ops): each case draws fresh random inputs from its own
// seed, runs the CPU float32 reference and the CUDA backend, checks the GPU
// result for NaN/Inf (outputs are poisoned with NaN before each GPU op, so an
// unwritten element fails) and then its relative L2 error against a budget.
//
// Budgets (why): fp32 1e-4 -- both sides round in float32 but sum in
// different orders (cuBLAS tiling, warp reductions, online softmax), which
// for these sizes costs ~1e-6; 1e-4 leaves room yet catches any real bug,
// whose errors are O(1). tf32 1e-3 -- operands keep 10 mantissa bits
// (relative rounding 2^-11 each). bf16 2e-2 -- inputs and outputs keep 8
// bits (2^-9 = 2e-3 per value), accumulated over K terms with partial
// cancellation. Where a result must be bit-exact (conversions), the test
// says so and compares exactly.
//
// Without a CUDA device every test prints "GENCAST_SKIP: no CUDA device" and
// returns (ctest reports it as skipped).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "core/error.h"
#include "devices/device_factory.h"
#include "graph/attention_neighbourhood.h"
#include "graph/icosahedral_mesh.h"
#include "graph/mesh_order.h"
#include "test_cuda_util.h"

#if GENCAST_WITH_CUDA
#include "attention.cuh"
#include "gemm.cuh"
#endif

using namespace gencast;
using namespace gencast::test;

namespace {

DType storage_of(Precision p) { return precision_info(p).activations; }

double tolerance_of(Precision p) { return precision_info(p).gpu_tolerance; }

// The budget of a case is set by its narrowest storage type.
double tolerance_of(std::initializer_list<DType> types, Precision p = Precision::fp32) {
  for (DType t : types)
    if (t == DType::bf16) return tolerance_of(Precision::bf16);
  return tolerance_of(p);
}

const char* act_name(Activation a) {
  switch (a) {
    case Activation::none: return "none";
    case Activation::swish: return "swish";
    case Activation::gelu: return "gelu";
  }
  return "?";
}

// A GPU tensor holding NaN everywhere: any element an op fails to write stays NaN.
Tensor poisoned(Backend& gpu, const Shape& shape, DType dtype) {
  Tensor t = gpu.empty(shape, dtype);
  gpu.fill(t, NAN);
  return t;
}

// ---- linear ---------------------------------------------------------------

struct LinearCase {
  int64_t R, K, N;
  bool bias;
  Activation act;
  float alpha, beta;
  Precision precision;
  DType out;  // y's dtype on the GPU (bf16 only with bf16 precision)
};

std::string describe(const LinearCase& c) {
  std::ostringstream s;
  s << "linear R=" << c.R << " K=" << c.K << " N=" << c.N << " bias=" << c.bias
    << " act=" << act_name(c.act) << " alpha=" << c.alpha << " beta=" << c.beta << " "
    << precision_name(c.precision) << " y=" << dtype_name(c.out);
  return s.str();
}

void run_linear(const LinearCase& c, uint32_t seed) {
  CpuBackend cpu;
  auto gpu = make_backend("cuda:0", c.precision);
  // Weights ~ U(-1,1)/sqrt(K) keep outputs O(1) whatever K, as trained layers do.
  const float ws = 1.f / std::sqrt(static_cast<float>(c.K));
  const ArrayF x = random_array({c.R, c.K}, seed);
  const ArrayF w = random_array({c.K, c.N}, seed + 1, -ws, ws);
  const ArrayF b = random_array({c.N}, seed + 2);
  const ArrayF y0 = random_array({c.R, c.N}, seed + 3);

  Tensor xc = cpu.from_host(x, DType::f32), wc = cpu.from_host(w, DType::f32);
  Tensor bc = cpu.from_host(b, DType::f32), yc = cpu.from_host(y0, DType::f32);
  cpu.linear(xc, wc, c.bias ? &bc : nullptr, yc, c.act, c.alpha, c.beta);
  const ArrayF ref = cpu.to_host(yc);

  const DType in = storage_of(c.precision);
  Tensor xg = gpu->from_host(x, in), wg = gpu->from_host(w, in);
  Tensor bg = gpu->from_host(b, DType::f32);
  Tensor yg = poisoned(*gpu, {c.R, c.N}, c.out);
  // beta == 0 keeps the NaN poison: the GEMM must not read y then.
  if (c.beta != 0.f) gpu->upload(y0.ptr(), yg);
  gpu->linear(xg, wg, c.bias ? &bg : nullptr, yg, c.act, c.alpha, c.beta);
  check_close(describe(c), gpu->to_host(yg), ref, tolerance_of({in, c.out}, c.precision));
}

// ---- attention --------------------------------------------------------------

// Node i attends to itself and `count` distinct nodes within `window` of it.
Csr windowed_neighbourhood(int64_t n, int64_t window, int count, uint32_t seed) {
  std::mt19937 rng(seed);
  Csr csr;
  csr.offsets.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    std::set<int32_t> nb{static_cast<int32_t>(i)};
    const int64_t lo = std::max<int64_t>(0, i - window), hi = std::min<int64_t>(n - 1, i + window);
    std::uniform_int_distribution<int64_t> pick(lo, hi);
    const int64_t want = std::min<int64_t>(count + 1, hi - lo + 1);
    while (static_cast<int64_t>(nb.size()) < want) nb.insert(static_cast<int32_t>(pick(rng)));
    // Every 97th node is a hub with neighbours anywhere: many tiles per query block.
    if (i % 97 == 0) {
      std::uniform_int_distribution<int64_t> any(0, n - 1);
      for (int k = 0; k < 150; ++k) nb.insert(static_cast<int32_t>(any(rng)));
    }
    csr.indices.insert(csr.indices.end(), nb.begin(), nb.end());
    csr.offsets.push_back(static_cast<int64_t>(csr.indices.size()));
  }
  return csr;
}

// Relabels nodes: node i becomes perm[i]; neighbour lists stay sorted.
Csr permuted(const Csr& csr, const std::vector<int32_t>& perm) {
  const int64_t n = csr.rows();
  std::vector<int32_t> inverse(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) inverse[perm[i]] = static_cast<int32_t>(i);
  Csr out;
  out.offsets.push_back(0);
  for (int64_t p = 0; p < n; ++p) {
    const int64_t i = inverse[p];
    std::vector<int32_t> nb;
    for (int64_t e = csr.offsets[i]; e < csr.offsets[i + 1]; ++e) nb.push_back(perm[csr.indices[e]]);
    std::sort(nb.begin(), nb.end());
    out.indices.insert(out.indices.end(), nb.begin(), nb.end());
    out.offsets.push_back(static_cast<int64_t>(out.indices.size()));
  }
  return out;
}

std::vector<int32_t> random_permutation(int64_t n, uint32_t seed) {
  std::vector<int32_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(perm.begin(), perm.end(), rng);
  return perm;
}

const AttentionTiles kAllTileModes[] = {AttentionTiles::sparse, AttentionTiles::banded,
                                        AttentionTiles::dense};
const char* tiles_name(AttentionTiles t) {
  return t == AttentionTiles::sparse ? "sparse" : t == AttentionTiles::banded ? "banded" : "dense";
}

// Runs CPU and GPU attention on the same qkv for every tile mode.
void run_attention(const std::string& label, const Csr& csr, int heads, int head_dim,
                   Precision precision, DType out_type, uint32_t seed, const ArrayF* qkv_in = nullptr) {
  const int64_t n = csr.rows(), hd = int64_t{heads} * head_dim;
  // Amplitude 2: logits of std ~1.5 give peaked but not one-hot softmax rows.
  const ArrayF qkv = qkv_in ? *qkv_in : random_array({n, 3 * hd}, seed, -2.f, 2.f);
  CpuBackend cpu;
  auto cpu_plan = cpu.plan_attention(csr, heads, head_dim, AttentionTiles::sparse);
  Tensor qc = cpu.from_host(qkv, DType::f32), oc = cpu.empty({n, hd}, DType::f32);
  cpu.attention(*cpu_plan, qc, oc);
  const ArrayF ref = cpu.to_host(oc);

  auto gpu = make_backend("cuda:0", precision);
  const DType in = storage_of(precision);
  Tensor qg = gpu->from_host(qkv, in);
  for (AttentionTiles mode : kAllTileModes) {
    auto plan = gpu->plan_attention(csr, heads, head_dim, mode);
    Tensor og = poisoned(*gpu, {n, hd}, out_type);
    gpu->attention(*plan, qg, og);
    std::ostringstream s;
    s << label << " N=" << n << " H=" << heads << " D=" << head_dim << " "
      << precision_name(precision) << " out=" << dtype_name(out_type) << " tiles=" << tiles_name(mode);
    check_close(s.str(), gpu->to_host(og), ref, tolerance_of({in, out_type}, precision));
  }
}

// ---- segment sum -------------------------------------------------------------

// Receiver degrees in [0, max_degree], about a fifth of them empty.
std::vector<int32_t> random_offsets(int64_t receivers, int max_degree, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> deg(0, max_degree);
  std::bernoulli_distribution empty(0.2);
  std::vector<int32_t> off{0};
  for (int64_t r = 0; r < receivers; ++r) off.push_back(off.back() + (empty(rng) ? 0 : deg(rng)));
  return off;
}

}  // namespace

TEST_CASE("cuda backend: a missing device is a usage error", "[cuda]") {
  // Runs with or without a GPU: no build has a device 99.
  CHECK_THROWS_AS(make_backend("cuda:99", Precision::fp32), InputError);
}

TEST_CASE("cuda backend: identity and memory accounting", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto gpu = make_backend("cuda:0", Precision::bf16);
  CHECK(gpu->name() == "cuda:0");
  CHECK(!gpu->device_name().empty());
  CHECK(gpu->compute_dtype() == DType::bf16);
  CHECK(make_backend("cuda:0", Precision::tf32)->compute_dtype() == DType::f32);
  const size_t before = gpu->peak_memory_bytes();
  void* first = nullptr;
  {
    Tensor t = gpu->empty({1024, 1024}, DType::f32);
    first = t.data();
    CHECK(gpu->peak_memory_bytes() >= before + 4 * 1024 * 1024);
  }
  CHECK(gpu->free_memory_bytes() > 0);
  // A dropped tensor's block is cached and handed to the next tensor of its size.
  Tensor again = gpu->empty({1024, 1024}, DType::f32);
  CHECK(again.data() == first);
}

TEST_CASE("cuda backend: blocks reused while their old kernels are queued stay correct", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  // Each iteration's temporary is dropped right after its kernels are queued
  // and its block goes to the next iteration's temporary, with no sync in
  // between: only stream order keeps the values apart. Sum of 0..49 = 1225.
  auto gpu = make_backend("cuda:0", Precision::fp32);
  const int64_t n = 1 << 20;
  Tensor acc = gpu->empty({n}, DType::f32);
  gpu->fill(acc, 0.f);
  for (int i = 0; i < 50; ++i) {
    Tensor t = gpu->empty({n}, DType::f32);
    gpu->fill(t, static_cast<float>(i));
    gpu->axpby(1.f, acc, 1.f, t, acc);
  }
  const ArrayF got = gpu->to_host(acc);
  CHECK(std::all_of(got.data.begin(), got.data.end(), [](float v) { return v == 1225.f; }));
}

TEST_CASE("cuda upload/download/copy/fill convert f32 <-> bf16 exactly", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto gpu = make_backend("cuda:0", Precision::bf16);
  // Values spanning many binades, plus exact ties (1 + 2^-8 rounds to 1 under ties-to-even).
  ArrayF x = random_array({4099}, 11, -1000.f, 1000.f);
  x.data[0] = 1.00390625f;
  x.data[1] = 1.01171875f;  // 1 + 3 * 2^-8: tie rounding up to even
  x.data[2] = -0.f;
  x.data[3] = 3.0e-39f;  // subnormal in f32
  std::vector<float> expect(x.data.size());
  std::transform(x.data.begin(), x.data.end(), expect.begin(), round_to_bf16);

  // Upload into bf16 rounds to nearest even on the device: bit-exact vs the host rounding.
  Tensor b = gpu->from_host(x, DType::bf16);
  CHECK(gpu->to_host(b).data == expect);
  // f32 round trip is exact.
  Tensor f = gpu->from_host(x, DType::f32);
  CHECK(gpu->to_host(f).data == x.data);
  // copy converts both ways, and copies same-type tensors unchanged.
  Tensor b2 = poisoned(*gpu, {4099}, DType::bf16);
  gpu->copy(f, b2);
  CHECK(gpu->to_host(b2).data == expect);
  Tensor f2 = poisoned(*gpu, {4099}, DType::f32);
  gpu->copy(b2, f2);
  CHECK(gpu->to_host(f2).data == expect);
  Tensor f3 = poisoned(*gpu, {4099}, DType::f32);
  gpu->copy(f, f3);
  CHECK(gpu->to_host(f3).data == x.data);
  // fill writes every element, rounded once for bf16.
  gpu->fill(b2, 0.37f);
  CHECK(gpu->to_host(b2).data == std::vector<float>(4099, round_to_bf16(0.37f)));
  gpu->fill(f3, 0.37f);
  CHECK(gpu->to_host(f3).data == std::vector<float>(4099, 0.37f));
}

TEST_CASE("cuda linear matches the CPU: small odd shapes, every option", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 100;
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
    for (Activation act : {Activation::none, Activation::swish, Activation::gelu})
      for (bool bias : {false, true})
        for (auto [alpha, beta] : {std::pair{1.f, 0.f}, std::pair{0.5f, 0.75f}, std::pair{-1.25f, 1.f}}) {
          run_linear({37, 19, 23, bias, act, alpha, beta, p, storage_of(p)}, seed += 10);
          if (p == Precision::bf16)  // bf16 operands into an f32 output
            run_linear({37, 19, 23, bias, act, alpha, beta, p, DType::f32}, seed += 10);
        }
}

TEST_CASE("cuda linear matches the CPU at model sizes", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 5000;
  const std::vector<LinearCase> cases = {
      // processor: qkv/out projections and the ffw pair (d_model 512, ffw 2048)
      {10242, 512, 512, true, Activation::none, 1.f, 0.f, Precision::fp32, DType::f32},
      {10242, 512, 2048, true, Activation::gelu, 1.f, 0.f, Precision::fp32, DType::f32},
      {10242, 2048, 512, true, Activation::none, 1.f, 1.f, Precision::fp32, DType::f32},
      {10242, 512, 512, true, Activation::none, 1.f, 0.f, Precision::tf32, DType::f32},
      {10242, 512, 2048, true, Activation::gelu, 1.f, 0.f, Precision::bf16, DType::bf16},
      {10242, 2048, 512, true, Activation::none, 1.f, 1.f, Precision::bf16, DType::bf16},
      // encoder MLP on grid inputs: K = 267 is not a multiple of 8
      {10242, 267, 512, true, Activation::swish, 1.f, 0.f, Precision::fp32, DType::f32},
      {10242, 267, 512, true, Activation::swish, 1.f, 0.f, Precision::bf16, DType::bf16},
      {40962, 512, 512, true, Activation::swish, 1.f, 0.f, Precision::bf16, DType::bf16},
      {40962, 512, 512, false, Activation::none, 1.f, 0.f, Precision::fp32, DType::f32},
      // decoder output head: 84 channels in f32
      {40962, 512, 84, true, Activation::none, 1.f, 0.f, Precision::bf16, DType::f32},
  };
  for (const auto& c : cases) run_linear(c, seed += 10);
}

TEST_CASE("cuda download_concurrent: another thread's copy while the owner queues work",
          "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto gpu = make_backend("cuda:0", Precision::fp32);
  const ArrayF values = random_array({1 << 22}, 8100);
  Tensor src = gpu->from_host(values, DType::f32);
  const ArrayF a = random_array({4096, 1024}, 8101), w = random_array({1024, 1024}, 8102);
  Tensor ag = gpu->from_host(a, DType::f32), wg = gpu->from_host(w, DType::f32);
  Tensor yg = gpu->empty({4096, 1024}, DType::f32);
  gpu->synchronize();  // src is complete, as the contract asks
  std::vector<float> got(values.data.size(), std::nanf(""));
  std::thread copier([&] { gpu->download_concurrent(src, got.data()); });
  for (int i = 0; i < 20; ++i) gpu->linear(ag, wg, nullptr, yg);  // the owner keeps queuing
  copier.join();
  CHECK(got == values.data);
  gpu->synchronize();
  for (float v : gpu->to_host(yg).data) REQUIRE(std::isfinite(v));
  Tensor bf16_src = gpu->from_host(values, DType::bf16);
  CHECK_THROWS(gpu->download_concurrent(bf16_src, got.data()));
}

TEST_CASE("cuda linear with GEMM tuning: the CPU's values, one choice per process, "
          "an accumulating first call untouched", "[cuda]") {
  SKIP_WITHOUT_CUDA();
#if GENCAST_WITH_CUDA  // cuda::gemm_timed_shapes (a build without CUDA skipped above)
  set_gemm_tuning(true);
  struct Off {  // later tests run untuned whatever happens here
    ~Off() { set_gemm_tuning(false); }
  } off;
  uint32_t seed = 7000;
  // Shapes no other test uses (the choices are process-wide). The first call
  // of R = 10243 accumulates (beta = 1): timing runs would add into y again
  // and again, so it must run untimed and still match; the beta = 0 call of
  // the same shape after it is timed.
  const int before = cuda::gemm_timed_shapes();
  run_linear({10243, 2048, 512, true, Activation::none, 1.f, 1.f, Precision::tf32, DType::f32},
             seed += 10);
  CHECK(cuda::gemm_timed_shapes() == before);
  run_linear({10243, 2048, 512, true, Activation::none, 1.f, 0.f, Precision::tf32, DType::f32},
             seed += 10);
  CHECK(cuda::gemm_timed_shapes() == before + 1);
  for (const LinearCase& c : std::vector<LinearCase>{
           {40963, 512, 512, true, Activation::none, 1.f, 0.f, Precision::tf32, DType::f32},
           {40963, 512, 512, true, Activation::swish, 1.f, 0.f, Precision::fp32, DType::f32},
           {10243, 512, 2048, true, Activation::gelu, 1.f, 0.f, Precision::bf16, DType::bf16},
           {10243, 512, 84, true, Activation::none, 1.f, 0.f, Precision::bf16, DType::f32}})
    run_linear(c, seed += 10);
  // Two workers of one process: the second reuses the first's choice (no
  // timing of its own) and gets the same bits.
  const ArrayF x = random_array({20011, 512}, seed + 1);
  const ArrayF w = random_array({512, 512}, seed + 2, -0.05f, 0.05f);
  const ArrayF b = random_array({512}, seed + 3);
  std::vector<ArrayF> outputs;
  for (int worker = 0; worker < 2; ++worker) {
    auto gpu = make_backend("cuda:0", Precision::tf32);
    Tensor xg = gpu->from_host(x, DType::f32), wg = gpu->from_host(w, DType::f32);
    Tensor bg = gpu->from_host(b, DType::f32);
    Tensor yg = poisoned(*gpu, {20011, 512}, DType::f32);
    const int timed = cuda::gemm_timed_shapes();
    gpu->linear(xg, wg, &bg, yg);
    CHECK(cuda::gemm_timed_shapes() == timed + (worker == 0 ? 1 : 0));
    outputs.push_back(gpu->to_host(yg));
  }
  CHECK(outputs[0].data == outputs[1].data);
  for (float v : outputs[0].data) REQUIRE(std::isfinite(v));
#endif
}

TEST_CASE("cuda linear: a frozen bias gives the unfrozen result, and no stale copy outlives it",
          "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto gpu = make_backend("cuda:0", Precision::bf16);
  const int64_t R = 300, K = 64, N = 200;
  const ArrayF x = random_array({R, K}, 71), w = random_array({K, N}, 72, -0.125f, 0.125f);
  Tensor xg = gpu->from_host(x, DType::bf16), wg = gpu->from_host(w, DType::bf16);
  const auto run = [&](const Tensor& bias, DType out) {
    Tensor y = poisoned(*gpu, {R, N}, out);
    gpu->linear(xg, wg, &bias, y, Activation::swish);
    return gpu->to_host(y);
  };
  const ArrayF b1 = random_array({N}, 73), b2 = random_array({N}, 74, 5.f, 6.f);
  const void* frozen_at = nullptr;
  {
    Tensor plain = gpu->from_host(b1, DType::f32);
    const ArrayF want_half = run(plain, DType::bf16), want_f32 = run(plain, DType::f32);
    Tensor frozen = gpu->from_host(b1, DType::f32);
    gpu->freeze(frozen);
    frozen_at = frozen.data();
    // The bf16 copy is the bias rounded once, as the per-call conversion rounds it.
    CHECK(run(frozen, DType::bf16).data == want_half.data);
    CHECK(run(frozen, DType::f32).data == want_f32.data);  // f32 outputs use the f32 bias
  }
  // The frozen tensor is gone; new biases of the same size take blocks back
  // from the cache until one lands on its block. Its values must be used,
  // not the old copy's.
  std::vector<Tensor> taken;
  Tensor other;
  for (int i = 0; i < 8 && other.data() != frozen_at; ++i) {
    if (other.defined() && other.numel() > 0) taken.push_back(other);
    other = gpu->from_host(b2, DType::f32);
  }
  REQUIRE(other.data() == frozen_at);
  CpuBackend cpu;
  Tensor xc = cpu.from_host(x, DType::f32), wc = cpu.from_host(w, DType::f32);
  Tensor bc = cpu.from_host(b2, DType::f32), yc = cpu.empty({R, N}, DType::f32);
  cpu.linear(xc, wc, &bc, yc, Activation::swish, 1.f, 0.f);
  check_close("linear with a new bias where a frozen one was", run(other, DType::bf16),
              cpu.to_host(yc), tolerance_of(Precision::bf16));
}

TEST_CASE("cuda linear gelu epilogue is the tanh approximation", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  // x @ I = x, so y = gelu(x) pointwise over [-6, 6]. The erf form of gelu
  // differs from the tanh form by up to 4.7e-4 (near |x| = 2.7); cuBLASLt's
  // epilogue, evaluated its own way in float32, was measured within 5.1e-6 of
  // the tanh form (H100, CUDA 13.0). So: within 2e-5 of tanh (4% of the gap)
  // and clearly away from erf somewhere.
  auto gpu = make_backend("cuda:0", Precision::fp32);
  const int64_t R = 1201, K = 8;
  ArrayF x({R, K}, 0.f), w({K, K}, 0.f);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t k = 0; k < K; ++k) x.data[r * K + k] = -6.f + 12.f * float(r * K + k) / float(R * K);
  for (int64_t k = 0; k < K; ++k) w.data[k * K + k] = 1.f;
  Tensor xg = gpu->from_host(x, DType::f32), wg = gpu->from_host(w, DType::f32);
  Tensor yg = poisoned(*gpu, {R, K}, DType::f32);
  gpu->linear(xg, wg, nullptr, yg, Activation::gelu, 1.f, 0.f);
  const ArrayF y = gpu->to_host(yg);
  double worst_tanh = 0, worst_erf = 0;
  for (size_t i = 0; i < y.data.size(); ++i) {
    REQUIRE(std::isfinite(y.data[i]));
    const double xv = x.data[i];
    const double erf_form = 0.5 * xv * (1 + std::erf(xv / std::sqrt(2.0)));
    worst_tanh = std::max(worst_tanh, double(std::abs(y.data[i] - activation_value(Activation::gelu, x.data[i]))));
    worst_erf = std::max(worst_erf, std::abs(double(y.data[i]) - erf_form));
  }
  INFO("max |cuBLASLt gelu - tanh gelu| = " << worst_tanh << ", vs erf gelu " << worst_erf);
  CHECK(worst_tanh <= 2e-5);
  CHECK(worst_erf >= 4e-4);
}

TEST_CASE("cuda layer_norm_cond matches the CPU", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 7000;
  struct Case { int64_t R, C; DType tx, ty; bool accumulate; };
  std::vector<Case> cases;
  // C: scalar (19), 4-wide (84), the register paths of 8-wide bf16 and 4-wide
  // f32 rows (256, 512, 600, 1024) and the wide-row path (2048).
  for (auto [R, C] : {std::pair<int64_t, int64_t>{37, 19}, {37, 84}, {301, 256}, {10242, 512},
                      {333, 600}, {517, 1024}, {1000, 2048}})
    for (auto [tx, ty] : {std::pair{DType::f32, DType::f32}, {DType::bf16, DType::bf16},
                          {DType::bf16, DType::f32}, {DType::f32, DType::bf16}})
      for (bool acc : {false, true}) cases.push_back({R, C, tx, ty, acc});
  auto gpu = make_backend("cuda:0", Precision::bf16);
  CpuBackend cpu;
  for (const auto& c : cases) {
    seed += 10;
    // An offset mean and non-unit spread: the normalisation must remove both.
    const ArrayF x = random_array({c.R, c.C}, seed, 2.f, 7.f);
    const ArrayF cond = random_array({2 * c.C}, seed + 1, -0.5f, 0.5f);
    const ArrayF y0 = random_array({c.R, c.C}, seed + 2);
    Tensor xc = cpu.from_host(x, DType::f32), cc = cpu.from_host(cond, DType::f32);
    Tensor yc = cpu.from_host(y0, DType::f32);
    cpu.layer_norm_cond(xc, cc, yc, c.accumulate);
    Tensor xg = gpu->from_host(x, c.tx), cg = gpu->from_host(cond, DType::f32);
    Tensor yg = poisoned(*gpu, {c.R, c.C}, c.ty);
    if (c.accumulate) gpu->upload(y0.ptr(), yg);
    gpu->layer_norm_cond(xg, cg, yg, c.accumulate);
    std::ostringstream s;
    s << "layer_norm_cond R=" << c.R << " C=" << c.C << " x=" << dtype_name(c.tx)
      << " y=" << dtype_name(c.ty) << " accumulate=" << c.accumulate;
    check_close(s.str(), gpu->to_host(yg), cpu.to_host(yc), tolerance_of({c.tx, c.ty}));
  }
}

TEST_CASE("cuda gather2_add_act matches the CPU", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 9000;
  auto gpu = make_backend("cuda:0", Precision::bf16);
  CpuBackend cpu;
  // C: scalar (19); 8-wide with 3 groups a row (24); 512; a row wider than
  // one block of groups (2056: 257 groups of 8).
  for (int64_t C : {19, 24, 512, 2056})
    for (Activation act : {Activation::none, Activation::swish, Activation::gelu})
      for (auto [tab, ty] : {std::pair{DType::f32, DType::f32}, {DType::bf16, DType::bf16},
                             {DType::bf16, DType::f32}}) {
        seed += 10;
        const int64_t R = 3001, ra = 301, rb = 203;
        const ArrayF a = random_array({ra, C}, seed), b = random_array({rb, C}, seed + 1);
        const ArrayF y0 = random_array({R, C}, seed + 2);
        std::mt19937 rng(seed + 3);
        std::vector<int32_t> ia(R), ib(R);
        for (auto& v : ia) v = static_cast<int32_t>(rng() % ra);
        for (auto& v : ib) v = static_cast<int32_t>(rng() % rb);
        Tensor ac = cpu.from_host(a, DType::f32), bc = cpu.from_host(b, DType::f32);
        Tensor yc = cpu.from_host(y0, DType::f32);
        Tensor iac = cpu.from_host_i32(ia), ibc = cpu.from_host_i32(ib);
        cpu.gather2_add_act(ac, iac, bc, ibc, yc, act);
        Tensor ag = gpu->from_host(a, tab), bg = gpu->from_host(b, tab);
        Tensor yg = gpu->from_host(y0, ty);
        Tensor iag = gpu->from_host_i32(ia), ibg = gpu->from_host_i32(ib);
        gpu->gather2_add_act(ag, iag, bg, ibg, yg, act);
        std::ostringstream s;
        s << "gather2_add_act R=" << R << " C=" << C << " act=" << act_name(act)
          << " a,b=" << dtype_name(tab) << " y=" << dtype_name(ty);
        check_close(s.str(), gpu->to_host(yg), cpu.to_host(yc), tolerance_of({tab, ty}));
      }
}

TEST_CASE("cuda segment_sum matches the CPU, empty segments and sub-ranges included", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 11000;
  auto gpu = make_backend("cuda:0", Precision::bf16);
  CpuBackend cpu;
  for (int64_t C : {19, 512})
    for (auto [tx, ty] : {std::pair{DType::f32, DType::f32}, {DType::bf16, DType::bf16},
                          {DType::bf16, DType::f32}})
      for (bool sub_range : {false, true}) {
        seed += 10;
        const int64_t total_receivers = 700;
        const std::vector<int32_t> all = random_offsets(total_receivers, 12, seed);
        // A sub-range [first, first + rows) uses offsets relative to offsets[first].
        const int64_t first = sub_range ? 123 : 0;
        const int64_t rows = sub_range ? 400 : total_receivers;
        const std::vector<int32_t> off(all.begin() + first, all.begin() + first + rows + 1);
        const int64_t edges = off.back() - off.front();
        const ArrayF x = random_array({edges, C}, seed + 1);
        Tensor xc = cpu.from_host(x, DType::f32), oc = cpu.from_host_i32(off);
        Tensor yc = cpu.empty({rows, C}, DType::f32);
        cpu.segment_sum(xc, oc, yc);
        Tensor xg = gpu->from_host(x, tx), og = gpu->from_host_i32(off);
        Tensor yg = poisoned(*gpu, {rows, C}, ty);
        gpu->segment_sum(xg, og, yg);
        std::ostringstream s;
        s << "segment_sum rows=" << rows << " edges=" << edges << " C=" << C
          << " x=" << dtype_name(tx) << " y=" << dtype_name(ty) << " offsets[0]=" << off.front();
        check_close(s.str(), gpu->to_host(yg), cpu.to_host(yc), tolerance_of({tx, ty}));
      }
}

TEST_CASE("cuda layer_norm_cond_segment_sum matches the CPU (fused and wide-row paths)", "[cuda]") {
  // C = 19 (scalar loads), 128, 200, 256 and 512 (registers, 4-wide loads;
  // lanes idle at 200), 600 (above the register budget: LayerNorm then
  // segment sum); degrees up to 70 so that long segments run too; every
  // fifth receiver has no edge (zeros).
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 11500;
  auto gpu = make_backend("cuda:0", Precision::bf16);
  CpuBackend cpu;
  for (int64_t C : {19, 128, 200, 256, 512, 600})
    for (auto [tx, ty] : {std::pair{DType::f32, DType::f32}, {DType::bf16, DType::bf16},
                          {DType::bf16, DType::f32}})
      for (bool sub_range : {false, true}) {
        seed += 10;
        const std::vector<int32_t> all = random_offsets(300, 70, seed);
        const int64_t first = sub_range ? 57 : 0;
        const int64_t rows = sub_range ? 200 : 300;
        const std::vector<int32_t> off(all.begin() + first, all.begin() + first + rows + 1);
        const int64_t edges = off.back() - off.front();
        // Rows with an offset and a spread like pre-LayerNorm activations.
        ArrayF x = random_array({edges, C}, seed + 1, -2.f, 2.f);
        for (int64_t e = 0; e < edges; ++e)
          for (int64_t c = 0; c < C; ++c) x.data[static_cast<size_t>(e * C + c)] += 0.01f * float(e % 7);
        const ArrayF cond = random_array({2 * C}, seed + 2);
        Tensor xc = cpu.from_host(x, DType::f32), oc = cpu.from_host_i32(off);
        Tensor cc = cpu.from_host(cond, DType::f32), yc = cpu.empty({rows, C}, DType::f32);
        cpu.layer_norm_cond_segment_sum(xc, cc, oc, yc);
        Tensor xg = gpu->from_host(x, tx), og = gpu->from_host_i32(off);
        Tensor cg = gpu->from_host(cond, DType::f32), yg = poisoned(*gpu, {rows, C}, ty);
        gpu->layer_norm_cond_segment_sum(xg, cg, og, yg);
        std::ostringstream s;
        s << "layer_norm_cond_segment_sum rows=" << rows << " edges=" << edges << " C=" << C
          << " x=" << dtype_name(tx) << " y=" << dtype_name(ty) << " offsets[0]=" << off.front();
        check_close(s.str(), gpu->to_host(yg), cpu.to_host(yc), tolerance_of({tx, ty}));
      }
}

TEST_CASE("cuda linear swish keeps both tails (8-wide, 4-wide and scalar activation)", "[cuda]") {
  // With W = I the pre-activations are the inputs themselves, so the swish
  // kernel sees values far into both tails: exp(-x) overflows at x = -150
  // (swish -> -0) and swish(x) = x at x = 150. C = 24, 20 and 19 take the
  // 8-wide, 4-wide and scalar forms of the activation kernel.
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 8500;
  for (Precision p : {Precision::fp32, Precision::bf16})
    for (int64_t C : {24, 20, 19}) {
      seed += 10;
      const int64_t R = 101;
      auto gpu = make_backend("cuda:0", p);
      CpuBackend cpu;
      ArrayF x = random_array({R, C}, seed, -12.f, 12.f);
      x.data[0] = -150.f;
      x.data[1] = 150.f;
      ArrayF w({C, C});
      for (int64_t i = 0; i < C; ++i) w.data[static_cast<size_t>(i * C + i)] = 1.f;
      const DType t = storage_of(p);
      Tensor xc = cpu.from_host(x, DType::f32), wc = cpu.from_host(w, DType::f32);
      Tensor yc = cpu.empty({R, C}, DType::f32);
      cpu.linear(xc, wc, nullptr, yc, Activation::swish, 1.f, 0.f);
      Tensor xg = gpu->from_host(x, t), wg = gpu->from_host(w, t), yg = poisoned(*gpu, {R, C}, t);
      gpu->linear(xg, wg, nullptr, yg, Activation::swish, 1.f, 0.f);
      const ArrayF got = gpu->to_host(yg);
      CHECK(got.data[0] == 0.f);
      CHECK(got.data[1] == Approx(150.f).epsilon(1e-2));
      std::ostringstream s;
      s << "linear swish tails C=" << C << " precision=" << precision_name(p);
      check_close(s.str(), got, cpu.to_host(yc), tolerance_of({t, t}));
    }
}

TEST_CASE("cuda axpby matches the CPU for every mix of f32 and bf16, in place too", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto gpu = make_backend("cuda:0", Precision::bf16);
  uint32_t seed = 13000;
  const DType types[] = {DType::f32, DType::bf16};
  for (int64_t n : {1001, 4096})
    for (DType tx : types)
      for (DType ty : types)
        for (DType to : types)
          for (bool in_place : {false, true}) {
            if (in_place && to != tx) continue;  // out aliases x: same tensor
            seed += 10;
            const ArrayF x = random_array({n}, seed), y = random_array({n}, seed + 1);
            const float a = 0.75f, b = -1.5f;
            ArrayF ref({n});
            for (int64_t i = 0; i < n; ++i) ref.data[i] = a * x.data[i] + b * y.data[i];
            Tensor xg = gpu->from_host(x, tx), yg = gpu->from_host(y, ty);
            Tensor og = in_place ? xg : poisoned(*gpu, {n}, to);
            gpu->axpby(a, xg, b, yg, og);
            std::ostringstream s;
            s << "axpby n=" << n << " x=" << dtype_name(tx) << " y=" << dtype_name(ty)
              << " out=" << dtype_name(to) << (in_place ? " (out = x)" : "");
            // f32 only: a*x + b*y may be contracted to an FMA (1 ulp), hence 1e-6.
            const double tol = tolerance_of({tx, ty, to}) == 2e-2 ? 2e-2 : 1e-6;
            check_close(s.str(), gpu->to_host(og), ref, tol);
          }
}

TEST_CASE("cuda copy converts f32 <-> f16 bit for bit as the CPU does", "[cuda]") {
  // The tf32 precision's edge cache is stored in f16 (PrecisionInfo::
  // edge_cache): both backends must round alike (to nearest even), over
  // normal, subnormal, overflowing and signed values; odd sizes take the
  // scalar path, multiples of 4 the vector one.
  SKIP_WITHOUT_CUDA();
  CpuBackend cpu;
  auto gpu = make_backend("cuda:0", Precision::tf32);
  uint32_t seed = 16000;
  for (int64_t n : {4099, 8192}) {
    ArrayF x = random_array({n}, seed += 10, -4.f, 4.f);
    for (int64_t i = 0; i < n; i += 7) x.data[i] *= std::ldexp(1.f, int(i % 41) - 30);  // 2^-30..2^10
    x.data[1] = 70000.f;   // overflows to Inf
    x.data[2] = -65519.f;  // the largest half, negated
    x.data[3] = 1e-7f;     // a half subnormal: 1.68 units of 2^-24, rounds to 2
    Tensor xc = cpu.from_host(x, DType::f32), hc = cpu.empty({n}, DType::f16);
    Tensor yc = cpu.empty({n}, DType::f32);
    cpu.copy(xc, hc);
    cpu.copy(hc, yc);
    const ArrayF ref = cpu.to_host(yc);
    Tensor xg = gpu->from_host(x, DType::f32), hg = gpu->empty({n}, DType::f16);
    Tensor yg = poisoned(*gpu, {n}, DType::f32);
    gpu->copy(xg, hg);
    gpu->copy(hg, yg);
    const ArrayF got = gpu->to_host(yg);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < n; ++i)
      mismatches += std::memcmp(&got.data[i], &ref.data[i], sizeof(float)) != 0;
    INFO("n = " << n);
    CHECK(mismatches == 0);
    CHECK(std::isinf(got.data[1]));
    CHECK(got.data[2] == -65504.f);
    CHECK(got.data[3] == std::ldexp(2.f, -24));
  }
}

TEST_CASE("cuda copy_columns matches the CPU for every mix of f32 and bf16", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  CpuBackend cpu;
  auto gpu = make_backend("cuda:0", Precision::bf16);
  struct Shape3 {
    int64_t src_cols, dst_cols, col0;
  };
  // The grid embedder's targets slot (4-wide path), then an odd width at an
  // odd column (scalar path), then aligned columns in rows of odd stride.
  const Shape3 shapes[] = {{84, 272, 184}, {7, 20, 5}, {4, 9, 4}};
  const DType types[] = {DType::f32, DType::bf16};
  const int64_t R = 1001, first_row = 3;  // a row view of a larger tensor, as the denoiser uses
  uint32_t seed = 14000;
  for (const Shape3& sh : shapes)
    for (DType ts : types)
      for (DType td : types) {
        seed += 10;
        ArrayF src = random_array({R, sh.src_cols}, seed, -3.f, 3.f);
        ArrayF before = random_array({R + first_row, sh.dst_cols}, seed + 1);
        // Host values as the GPU stores them, so that the CPU sees the same inputs.
        if (ts == DType::bf16)
          for (float& v : src.data) v = round_to_bf16(v);
        if (td == DType::bf16)
          for (float& v : before.data) v = round_to_bf16(v);
        const float scale = 0.731f;
        Tensor sc = cpu.from_host(src, DType::f32), dc = cpu.from_host(before, DType::f32);
        Tensor dc_view = dc.rows(first_row, R);
        cpu.copy_columns(sc, scale, dc_view, sh.col0);
        ArrayF ref = cpu.to_host(dc);
        if (td == DType::bf16)
          for (float& v : ref.data) v = round_to_bf16(v);

        Tensor sg = gpu->from_host(src, ts), dg = gpu->from_host(before, td);
        Tensor dg_view = dg.rows(first_row, R);
        gpu->copy_columns(sg, scale, dg_view, sh.col0);
        const ArrayF got = gpu->to_host(dg);
        std::ostringstream s;
        s << "copy_columns R=" << R << " src_cols=" << sh.src_cols << " dst_cols=" << sh.dst_cols
          << " col0=" << sh.col0 << " src=" << dtype_name(ts) << " dst=" << dtype_name(td);
        check_close(s.str(), got, ref, tolerance_of({ts, td}));
        // Bit-exact: each written value is one float32 product (no sum to
        // reorder), rounded once to the destination type; every other value,
        // the rows outside the view included, must be untouched.
        int64_t mismatches = 0;
        for (size_t i = 0; i < ref.data.size(); ++i) mismatches += got.data[i] != ref.data[i];
        INFO(s.str());
        CHECK(mismatches == 0);
      }
  // Shape violations are caught before the launch.
  Tensor src = gpu->empty({4, 3}, DType::f32), dst = gpu->empty({5, 8}, DType::bf16);
  CHECK_THROWS_AS(gpu->copy_columns(src, 1.f, dst, 0), std::invalid_argument);
  Tensor dst4 = dst.rows(0, 4);
  CHECK_THROWS_AS(gpu->copy_columns(src, 1.f, dst4, 6), std::invalid_argument);
  CHECK_THROWS_AS(gpu->copy_columns(src, 1.f, dst4, -1), std::invalid_argument);
}

TEST_CASE("cuda attention matches the CPU on random neighbourhoods, every tile mode", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 15000;
  for (int64_t n : {642, 2562})
    for (int head_dim : {8, 128}) {
      const Csr local = windowed_neighbourhood(n, 150, 40, seed += 10);
      run_attention("attention windowed", local, 4, head_dim, Precision::fp32, DType::f32,
                    seed += 10);
      // Scattered neighbours: tiles are no longer near the diagonal, results must not move.
      const Csr scattered = permuted(local, random_permutation(n, seed += 10));
      run_attention("attention permuted", scattered, 4, head_dim, Precision::fp32, DType::f32,
                    seed += 10);
      run_attention("attention windowed", local, 4, head_dim, Precision::bf16, DType::bf16,
                    seed += 10);
      run_attention("attention windowed", local, 4, head_dim, Precision::bf16, DType::f32,
                    seed += 10);
    }
  // Head dims that are not a multiple of 16 (padded lanes) and a single head.
  const Csr small = windowed_neighbourhood(300, 40, 20, seed += 10);
  run_attention("attention odd head_dim", small, 3, 5, Precision::fp32, DType::f32, seed += 10);
  run_attention("attention odd head_dim", small, 1, 100, Precision::fp32, DType::f32, seed += 10);
}

TEST_CASE("cuda attention matches the CPU on a real k-hop mesh neighbourhood", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  // Mesh level 4 (2562 nodes), 8 hops, in the banded (RCM) order the model uses.
  const TriMesh mesh = icosahedral_mesh(4);
  const TriMesh banded = permute_mesh(mesh, reverse_cuthill_mckee(mesh));
  const Csr khop = k_hop_neighbourhood(mesh_adjacency(banded), 8);
  run_attention("attention k-hop mesh4 k=8", khop, 4, 128, Precision::fp32, DType::f32, 17000);
  run_attention("attention k-hop mesh4 k=8", khop, 4, 128, Precision::bf16, DType::bf16, 17010);
}

namespace {

// Variants of a NaN planted in node 5's q, k and/or v.
struct NanCase {
  const char* what;
  bool q, k, v;
  bool isolated;  // node 5 is nobody's neighbour but its own
};

}  // namespace

TEST_CASE("cuda attention: a NaN outside a neighbourhood does not leak into it", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  // Isolated: node 5 is nobody's neighbour but its own and its q, k, v are
  // NaN. In dense and banded mode its key sits in tiles every query visits,
  // so masked entries must be skipped (SIMT) or given weight exactly 0 with
  // V's NaN replaced by 0 (tensor cores: 0 * NaN = NaN there), not multiplied
  // by zero. Shared: node 5 stays in the other rows' neighbourhoods and only
  // its k (or v) is NaN: exactly the rows that list it turn NaN, as on the CPU.
  const int64_t n = 300;
  const Csr csr = windowed_neighbourhood(n, 60, 10, 19000);
  Csr clean;
  clean.offsets.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t e = csr.offsets[i]; e < csr.offsets[i + 1]; ++e)
      if (csr.indices[e] != 5 || i == 5) clean.indices.push_back(csr.indices[e]);
    clean.offsets.push_back(static_cast<int64_t>(clean.indices.size()));
  }
  // head_dim 16 runs the register kernels' DP = 32 form, 128 the DP = 128
  // one (the wgmma kernel's on Hopper).
  const NanCase cases[] = {{"q,k,v isolated", true, true, true, true},
                           {"v shared", false, false, true, false},
                           {"k shared", false, true, false, false}};
  const int heads = 2;
  for (const int head_dim : {16, 128})
  for (const NanCase& nc : cases) {
    const int64_t hd = heads * head_dim;
    const Csr& graph = nc.isolated ? clean : csr;
    ArrayF qkv = random_array({n, 3 * hd}, 19010, -2.f, 2.f);
    for (int part = 0; part < 3; ++part)
      if ((part == 0 && nc.q) || (part == 1 && nc.k) || (part == 2 && nc.v))
        for (int64_t c = 0; c < hd; ++c) qkv.data[5 * 3 * hd + part * hd + c] = NAN;
    CpuBackend cpu;
    auto cpu_plan = cpu.plan_attention(graph, heads, head_dim, AttentionTiles::sparse);
    Tensor qc = cpu.from_host(qkv, DType::f32), oc = cpu.empty({n, hd}, DType::f32);
    cpu.attention(*cpu_plan, qc, oc);
    const ArrayF ref_raw = cpu.to_host(oc);
    // The rows that must be NaN: node 5's own (isolated) or those listing node 5.
    std::vector<bool> nan_row(static_cast<size_t>(n), false);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t e = graph.offsets[i]; e < graph.offsets[i + 1]; ++e)
        if (graph.indices[e] == 5) nan_row[i] = true;
    int64_t nan_rows = 0;
    for (int64_t i = 0; i < n; ++i) {
      nan_rows += nan_row[i];
      for (int64_t c = 0; c < hd; ++c) REQUIRE(std::isnan(ref_raw.data[i * hd + c]) == nan_row[i]);
    }
    // Isolated: node 5's row alone; shared: its row and those of nodes that picked it.
    if (nc.isolated)
      REQUIRE(nan_rows == 1);
    else
      REQUIRE(nan_rows > 1);
    for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
      auto gpu = make_backend("cuda:0", p);
      Tensor qg = gpu->from_host(qkv, storage_of(p));
      for (AttentionTiles mode : kAllTileModes) {
        auto plan = gpu->plan_attention(graph, heads, head_dim, mode);
        Tensor og = poisoned(*gpu, {n, hd}, storage_of(p));
        gpu->attention(*plan, qg, og);
        ArrayF got = gpu->to_host(og), ref = ref_raw;
        const std::string label = std::string("attention NaN ") + nc.what + " D=" +
                                  std::to_string(head_dim) + " " + precision_name(p) +
                                  " tiles=" + tiles_name(mode);
        INFO(label);
        // The NaN rows must be NaN on the GPU too (every element); compare the rest.
        for (int64_t i = 0; i < n; ++i) {
          if (!nan_row[i]) continue;
          for (int64_t c = 0; c < hd; ++c) {
            CHECK(std::isnan(got.data[i * hd + c]));
            got.data[i * hd + c] = ref.data[i * hd + c] = 0.f;
          }
        }
        check_close(label, got, ref, tolerance_of(p));
      }
    }
  }
}

TEST_CASE("cuda attention: a node without neighbours gets zeros", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  const int64_t n = 130;
  Csr csr = windowed_neighbourhood(n, 20, 5, 21000);
  Csr holes;  // rows 0, 64 and 129 empty: first/last rows of tiles
  holes.offsets.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    if (i != 0 && i != 64 && i != 129)
      holes.indices.insert(holes.indices.end(), csr.indices.begin() + csr.offsets[i],
                           csr.indices.begin() + csr.offsets[i + 1]);
    holes.offsets.push_back(static_cast<int64_t>(holes.indices.size()));
  }
  run_attention("attention empty rows", holes, 2, 32, Precision::fp32, DType::f32, 21010);
  run_attention("attention empty rows", holes, 2, 32, Precision::tf32, DType::f32, 21020);
  run_attention("attention empty rows", holes, 2, 32, Precision::bf16, DType::bf16, 21030);
}

namespace {

// ---- tensor-core attention -----------------------------------------------------
//
// The bf16 and tf32 precisions run attention on tensor cores (kernels/
// attention_mma.cu); fp32 runs the SIMT float32 kernel. Each case is checked
//  * against the CPU float32 reference, at the precision's budget (bf16 2e-2,
//    tf32 1e-3; a numerical model of the kernel -- operands and weights
//    rounded like the kernel, lazy running max, tile by tile, in numpy --
//    predicts 3-6e-3 and 4-7e-4 on these inputs), and
//  * against the SIMT kernel on the very same rounded inputs, where only the
//    rounding of the softmax weights to bf16 (2^-9 relative) or tf32 (2^-11)
//    and the summation order differ: budgets 5e-3 and 5e-4 (the model
//    predicts 0.7-1.6e-3 and 0.8-2e-4); any indexing or layout error is O(1).

// Rounds to the nearest tf32 (10 mantissa bits), ties away from zero, as the
// device's cvt.rna.tf32.f32 does; values already in tf32 are unchanged there.
float round_to_tf32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & 0xffffe000u;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

// Rows i % every == 3 keep only themselves: queries with a single neighbour.
Csr with_lonely_rows(const Csr& csr, int64_t every) {
  Csr out;
  out.offsets.push_back(0);
  for (int64_t i = 0; i < csr.rows(); ++i) {
    if (i % every == 3)
      out.indices.push_back(static_cast<int32_t>(i));
    else
      out.indices.insert(out.indices.end(), csr.indices.begin() + csr.offsets[i],
                         csr.indices.begin() + csr.offsets[i + 1]);
    out.offsets.push_back(static_cast<int64_t>(out.indices.size()));
  }
  return out;
}

// A real k-hop neighbourhood of an icosahedral mesh, in the banded (RCM)
// order the model uses, or relabelled by a random permutation.
Csr mesh_khop(int level, int hops, bool shuffled, uint32_t seed) {
  const TriMesh mesh = icosahedral_mesh(level);
  const TriMesh banded = permute_mesh(mesh, reverse_cuthill_mckee(mesh));
  const Csr khop = k_hop_neighbourhood(mesh_adjacency(banded), hops);
  return shuffled ? permuted(khop, random_permutation(khop.rows(), seed)) : khop;
}

struct MmaAttentionCase {
  std::string label;
  Csr csr;
  int heads, head_dim;
  float amp;  // q, k, v ~ U(-amp, amp): logit std amp^2 / 3 whatever D
};

void run_mma_attention(const MmaAttentionCase& c, uint32_t seed) {
  const int64_t n = c.csr.rows(), hd = int64_t{c.heads} * c.head_dim;
  const ArrayF qkv = random_array({n, 3 * hd}, seed, -c.amp, c.amp);
  ArrayF qkv_tf32 = qkv;
  for (auto& v : qkv_tf32.data) v = round_to_tf32(v);
  CpuBackend cpu;
  auto cpu_plan = cpu.plan_attention(c.csr, c.heads, c.head_dim, AttentionTiles::sparse);
  Tensor qc = cpu.from_host(qkv, DType::f32), oc = cpu.empty({n, hd}, DType::f32);
  cpu.attention(*cpu_plan, qc, oc);
  const ArrayF ref = cpu.to_host(oc);

  auto simt = make_backend("cuda:0", Precision::fp32);
  auto bf = make_backend("cuda:0", Precision::bf16);
  auto tf = make_backend("cuda:0", Precision::tf32);
  // The same bf16 values on both kernels (uploads round identically).
  Tensor q_bf = bf->from_host(qkv, DType::bf16), q_bf_simt = simt->from_host(qkv, DType::bf16);
  Tensor q_tf = tf->from_host(qkv, DType::f32);
  Tensor q_tf_r = tf->from_host(qkv_tf32, DType::f32), q_tf_simt = simt->from_host(qkv_tf32, DType::f32);
  for (AttentionTiles mode : kAllTileModes) {
    std::ostringstream s;
    s << c.label << " N=" << n << " H=" << c.heads << " D=" << c.head_dim << " amp=" << c.amp
      << " tiles=" << tiles_name(mode);
    const std::string tag = s.str();
    auto p_simt = simt->plan_attention(c.csr, c.heads, c.head_dim, mode);
    auto p_bf = bf->plan_attention(c.csr, c.heads, c.head_dim, mode);
    auto p_tf = tf->plan_attention(c.csr, c.heads, c.head_dim, mode);
    const auto run = [&](Backend& gpu, const AttentionPlan& plan, const Tensor& q, DType out) {
      Tensor o = poisoned(gpu, {n, hd}, out);
      gpu.attention(plan, q, o);
      return gpu.to_host(o);
    };
    // bf16 tensor cores vs the CPU, bf16 and f32 outputs.
    check_close(tag + " bf16-mma out=bf16 vs cpu", run(*bf, *p_bf, q_bf, DType::bf16), ref,
                tolerance_of(Precision::bf16));
    const ArrayF got_bf = run(*bf, *p_bf, q_bf, DType::f32);
    check_close(tag + " bf16-mma out=f32 vs cpu", got_bf, ref, tolerance_of(Precision::bf16));
    // ... vs the SIMT kernel on the same bf16 inputs.
    check_close(tag + " bf16-mma vs simt, same bf16 inputs", got_bf,
                run(*simt, *p_simt, q_bf_simt, DType::f32), 5e-3);
    // tf32 tensor cores vs the CPU (the kernel rounds the inputs itself) ...
    check_close(tag + " tf32-mma vs cpu", run(*tf, *p_tf, q_tf, DType::f32), ref,
                tolerance_of(Precision::tf32));
    // ... and vs the SIMT kernel on inputs already in tf32.
    check_close(tag + " tf32-mma vs simt, same tf32 inputs", run(*tf, *p_tf, q_tf_r, DType::f32),
                run(*simt, *p_simt, q_tf_simt, DType::f32), 5e-4);
  }
}

}  // namespace

TEST_CASE("cuda tensor-core attention matches the CPU and the SIMT kernel", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  uint32_t seed = 23000;
  std::vector<MmaAttentionCase> cases;
  for (int64_t n : {642, 2562}) {
    // Random neighbourhoods with self loops (and hubs, see windowed_neighbourhood),
    // every 13th query with itself as its only neighbour; N = 642, 2562 leave
    // padding slots in the last block.
    const Csr local = with_lonely_rows(windowed_neighbourhood(n, 150, 40, seed += 10), 13);
    const Csr scattered = permuted(local, random_permutation(n, seed += 10));
    for (int d : {8, 128}) {
      cases.push_back({"mma windowed", local, 4, d, 2.f});
      cases.push_back({"mma windowed permuted", scattered, 4, d, 2.f});
    }
  }
  // Real k-hop mesh neighbourhoods: levels 3 and 4, and level 5 with 16 hops
  // (the 1-degree model's graph, ~800 neighbours per node), RCM order and shuffled.
  for (auto [level, hops] : {std::pair{3, 4}, std::pair{4, 8}, std::pair{5, 16}})
    for (bool shuffled : {false, true}) {
      const Csr khop = mesh_khop(level, hops, shuffled, seed += 10);
      for (int d : {8, 128})
        cases.push_back({std::string("mma k-hop mesh") + std::to_string(level) + " k=" +
                             std::to_string(hops) + (shuffled ? " shuffled" : " rcm"),
                         khop, 4, d, 2.f});
    }
  // Peaked softmax: logits of std 5.3 make later tiles exceed the running
  // max by more than the slack (2^8) often: the numerical model rescales O
  // in ~40% of the rows (vs < 1% at amp 2).
  cases.push_back({"mma peaked", with_lonely_rows(windowed_neighbourhood(642, 150, 40, seed += 10), 13),
                   4, 128, 4.f});
  // Head dims that are not a multiple of 8 (scalar staging, zero padding to
  // 32 / 128 columns), one at DP = 64, and a single head.
  const Csr small = windowed_neighbourhood(300, 40, 20, seed += 10);
  cases.push_back({"mma odd head_dim", small, 3, 5, 2.f});
  cases.push_back({"mma odd head_dim", small, 1, 100, 2.f});
  cases.push_back({"mma head_dim 40", small, 2, 40, 2.f});
  for (const auto& c : cases) run_mma_attention(c, seed += 10);
}

TEST_CASE("cuda tensor-core attention: small cases for compute-sanitizer", "[cuda]") {
  // Small enough for compute-sanitizer's memcheck, racecheck (shared-memory
  // hazards) and synccheck (barriers), e.g.
  //   compute-sanitizer --tool racecheck gencast_tests "cuda tensor-core attention: small*"
  // padding slots, lonely and empty rows, rescaling (amp 4), both precisions,
  // every tile mode.
  SKIP_WITHOUT_CUDA();
  Csr csr = with_lonely_rows(windowed_neighbourhood(150, 30, 12, 25000), 7);
  Csr holes;  // rows 0 and 64 empty
  holes.offsets.push_back(0);
  for (int64_t i = 0; i < csr.rows(); ++i) {
    if (i != 0 && i != 64)
      holes.indices.insert(holes.indices.end(), csr.indices.begin() + csr.offsets[i],
                           csr.indices.begin() + csr.offsets[i + 1]);
    holes.offsets.push_back(static_cast<int64_t>(holes.indices.size()));
  }
  run_mma_attention({"mma small", holes, 2, 128, 4.f}, 25010);
  run_mma_attention({"mma small", holes, 2, 8, 2.f}, 25020);
}

TEST_CASE("cuda wgmma attention matches the CPU and the mma.sync kernel", "[cuda]") {
  // The Hopper kernel (kernels/sm90a/attention_wgmma.cu) launched directly,
  // so that the test fails if it silently did not run, against the CPU at the
  // bf16 budget and against the mma.sync flash kernel on the same bf16
  // inputs: both round q, k, v and the weights to bf16 and differ only in
  // float32 rounding (the order of sums inside an MMA, the row sums taken by
  // the tensor cores, the scale folded into the exponent's FMA: measured
  // <= 3e-5 on the H200), so 1e-3 leaves room and any swizzle, descriptor or
  // fragment error (O(1)) fails. Head dims 128 and
  // 64 (DP = 128, 64), 96 and 40 (zero-padded columns); real k-hop meshes,
  // lonely rows, padding slots and a peaked softmax (O rescaled often).
  SKIP_WITHOUT_CUDA();
#if GENCAST_WITH_CUDA
  if (!cuda::attention_wgmma_available()) {
    std::cout << "GENCAST_SKIP: the wgmma attention kernel needs compute capability 9.0\n";
    return;
  }
  struct Restore {
    ~Restore() { cuda::set_attention_wgmma(true); }
  } restore;
  uint32_t seed = 27000;
  const Csr local = with_lonely_rows(windowed_neighbourhood(642, 150, 40, seed += 10), 13);
  const MmaAttentionCase cases[] = {
      {"wgmma k-hop mesh5 k=16 rcm", mesh_khop(5, 16, false, 0), 4, 128, 2.f},
      {"wgmma k-hop mesh4 k=8 shuffled", mesh_khop(4, 8, true, seed += 10), 4, 128, 2.f},
      {"wgmma windowed peaked", local, 4, 128, 4.f},
      {"wgmma windowed", local, 2, 64, 2.f},
      {"wgmma windowed", local, 1, 96, 2.f},
      {"wgmma windowed", local, 3, 40, 2.f}};
  CpuBackend cpu;
  auto gpu = make_backend("cuda:0", Precision::bf16);
  for (const MmaAttentionCase& c : cases) {
    const int64_t n = c.csr.rows(), hd = int64_t{c.heads} * c.head_dim;
    const ArrayF qkv = random_array({n, 3 * hd}, seed += 10, -c.amp, c.amp);
    auto cpu_plan = cpu.plan_attention(c.csr, c.heads, c.head_dim, AttentionTiles::sparse);
    Tensor qc = cpu.from_host(qkv, DType::f32), oc = cpu.empty({n, hd}, DType::f32);
    cpu.attention(*cpu_plan, qc, oc);
    const ArrayF ref = cpu.to_host(oc);
    Tensor q = gpu->from_host(qkv, DType::bf16);
    for (AttentionTiles mode : kAllTileModes) {
      std::ostringstream s;
      s << c.label << " N=" << n << " H=" << c.heads << " D=" << c.head_dim << " amp=" << c.amp
        << " tiles=" << tiles_name(mode);
      const std::string tag = s.str();
      INFO(tag);
      auto plan = gpu->plan_attention(c.csr, c.heads, c.head_dim, mode);
      const auto& tiles = dynamic_cast<const cuda::CudaAttentionPlan&>(*plan).device_tiles();
      Tensor direct = poisoned(*gpu, {n, hd}, DType::f32);
      REQUIRE(cudaDeviceSynchronize() == cudaSuccess);  // the poison fill, on the backend's stream
      REQUIRE(cuda::attention_wgmma_launch(tiles, q.data(), DType::bf16, direct.data(), DType::f32,
                                           nullptr));
      REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
      const ArrayF got = gpu->to_host(direct);
      check_close(tag + " wgmma vs cpu", got, ref, tolerance_of(Precision::bf16));
      // Through the backend (the wgmma kernel by default), bf16 output.
      Tensor ob = poisoned(*gpu, {n, hd}, DType::bf16);
      gpu->attention(*plan, q, ob);
      check_close(tag + " backend bf16 out vs cpu", gpu->to_host(ob), ref,
                  tolerance_of(Precision::bf16));
      cuda::set_attention_wgmma(false);
      Tensor of = poisoned(*gpu, {n, hd}, DType::f32);
      gpu->attention(*plan, q, of);
      cuda::set_attention_wgmma(true);
      check_close(tag + " wgmma vs mma.sync flash, same bf16 inputs", got, gpu->to_host(of), 1e-3);
    }
  }
#endif
}

TEST_CASE("cuda tf32 attention on f16 operands: the CPU, the tf32 kernel, and its bits beyond "
          "f16's range",
          "[cuda]") {
  // The tf32 precision's route on Hopper (kernels/attention_tf32_route.cu):
  // q, k, v in f16 on the wgmma kernel. Against the CPU at the tf32 budget
  // and against the tf32 flash kernel (route off) at 1e-3 (both are 2^-11
  // roundings of the same values); a finite value beyond f16's range must
  // give the tf32 kernel's result bit for bit (the gated fallback), in q or
  // in v; a NaN in v the same NaN rows.
  SKIP_WITHOUT_CUDA();
#if GENCAST_WITH_CUDA
  if (!cuda::attention_wgmma_available()) {
    std::cout << "GENCAST_SKIP: the f16 route needs the wgmma kernel (compute capability 9.0)\n";
    return;
  }
  struct Restore {
    ~Restore() {
      cuda::set_attention_tf32_as_f16(true);
      cuda::set_attention_wgmma(true);
    }
  } restore;
  uint32_t seed = 29000;
  const Csr local = with_lonely_rows(windowed_neighbourhood(642, 150, 40, seed += 10), 13);
  const MmaAttentionCase cases[] = {{"k-hop mesh4 k=8 shuffled", mesh_khop(4, 8, true, seed += 10), 4, 128, 2.f},
                                    {"windowed peaked", local, 4, 128, 4.f},
                                    {"windowed", local, 2, 64, 2.f},
                                    {"windowed", local, 3, 40, 2.f}};
  CpuBackend cpu;
  auto gpu = make_backend("cuda:0", Precision::tf32);
  for (const MmaAttentionCase& c : cases) {
    const int64_t n = c.csr.rows(), hd = int64_t{c.heads} * c.head_dim;
    const std::string tag = c.label + " N=" + std::to_string(n) + " H=" + std::to_string(c.heads) +
                            " D=" + std::to_string(c.head_dim);
    INFO(tag);
    ArrayF qkv = random_array({n, 3 * hd}, seed += 10, -c.amp, c.amp);
    auto cpu_plan = cpu.plan_attention(c.csr, c.heads, c.head_dim, AttentionTiles::sparse);
    Tensor qc = cpu.from_host(qkv, DType::f32), oc = cpu.empty({n, hd}, DType::f32);
    cpu.attention(*cpu_plan, qc, oc);
    const ArrayF ref = cpu.to_host(oc);
    auto plan = gpu->plan_attention(c.csr, c.heads, c.head_dim, AttentionTiles::sparse);
    const auto run = [&](const ArrayF& values, bool route) {
      cuda::set_attention_tf32_as_f16(route);
      Tensor q = gpu->from_host(values, DType::f32);
      Tensor o = poisoned(*gpu, {n, hd}, DType::f32);
      gpu->attention(*plan, q, o);
      cuda::set_attention_tf32_as_f16(true);
      return gpu->to_host(o);
    };
    // Launched directly first, so that the test fails if the route silently
    // did not run: it must take the call, leave the range flag down and
    // write every output value.
    {
      const auto& tiles = dynamic_cast<const cuda::CudaAttentionPlan&>(*plan).device_tiles();
      Tensor q = gpu->from_host(qkv, DType::f32);
      Tensor o = poisoned(*gpu, {n, hd}, DType::f32);
      Tensor qkv_half = gpu->empty({n, 3 * hd}, DType::f16), flag = gpu->empty({1}, DType::i32);
      REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
      REQUIRE(cuda::attention_tf32_as_f16_launch(tiles, q.data(), DType::f32, o.data(),
                                                 DType::f32, qkv_half.data(), flag.as<int32_t>(),
                                                 nullptr));
      REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
      int32_t flag_value = -1;
      REQUIRE(cudaMemcpy(&flag_value, flag.data(), sizeof flag_value, cudaMemcpyDeviceToHost) ==
              cudaSuccess);
      CHECK(flag_value == 0);
      check_close(tag + " direct f16 route vs cpu", gpu->to_host(o), ref,
                  tolerance_of(Precision::tf32));
    }
    const ArrayF routed = run(qkv, true), tf32 = run(qkv, false);
    check_close(tag + " f16 route vs cpu", routed, ref, tolerance_of(Precision::tf32));
    check_close(tag + " f16 route vs tf32 flash kernel", routed, tf32, 1e-3);
    // The route ran through the backend: its roundings differ somewhere.
    // (Counted: a failing comparison of the whole vectors prints them all.)
    const auto differing = [](const ArrayF& a, const ArrayF& b) {
      int64_t count = 0;
      for (size_t i = 0; i < a.data.size(); ++i) count += a.data[i] != b.data[i] ? 1 : 0;
      return count;
    };
    CHECK(differing(routed, tf32) > 0);
    // With the wgmma kernel switched off the route is not taken (no launch
    // half done): the tf32 kernel's output, bit for bit.
    cuda::set_attention_wgmma(false);
    const ArrayF no_wgmma = run(qkv, true);
    cuda::set_attention_wgmma(true);
    CHECK(differing(no_wgmma, tf32) == 0);

    // Beyond f16's range (1e5 in a value of node 7's V, then in its q):
    // the tf32 kernel's output, bit for bit.
    for (const int64_t col : {2 * hd + 3, int64_t{5}}) {
      ArrayF big = qkv;
      big.data[static_cast<size_t>(7 * 3 * hd + col)] = 1e5f;
      const ArrayF a = run(big, true), b = run(big, false);
      INFO("1e5 at column " << col);
      CHECK(differing(a, b) == 0);
      CHECK(differing(a, tf32) > 0);  // the large value changed the result
    }
    // NaN in node 9's V: the same rows are NaN either way (and some are).
    ArrayF nan_v = qkv;
    nan_v.data[static_cast<size_t>(9 * 3 * hd + 2 * hd)] = NAN;
    const ArrayF a = run(nan_v, true), b = run(nan_v, false);
    int64_t nan_rows = 0, mismatched = 0;
    for (size_t i = 0; i < a.data.size(); ++i) {
      nan_rows += std::isnan(a.data[i]) ? 1 : 0;
      mismatched += std::isnan(a.data[i]) != std::isnan(b.data[i]) ? 1 : 0;
    }
    CHECK(nan_rows > 0);
    CHECK(mismatched == 0);
  }
#endif
}

namespace {

// Every sphere-noise check on an n_lat x n_lon grid: 40 channels, two chunks
// on the GPU (32 + 8), mixed seeds/members/draws.
void check_sphere_noise(int64_t n_lat, int64_t n_lon) {
  CpuBackend cpu;
  auto gpu = make_backend("cuda:0", Precision::fp32);
  std::vector<NoiseKey> keys;
  for (uint32_t c = 0; c < 40; ++c)
    keys.push_back({0x9e3779b97f4a7c15ull + c / 20, c % 3, 7 + c % 2, c});
  const int64_t points = n_lat * n_lon, C = static_cast<int64_t>(keys.size());
  auto cpu_plan = cpu.plan_noise(n_lat, n_lon);
  Tensor oc = cpu.empty({points, C}, DType::f32);
  cpu.sphere_noise(*cpu_plan, keys, oc);
  const ArrayF ref = cpu.to_host(oc);
  auto plan = gpu->plan_noise(n_lat, n_lon);
  Tensor og = poisoned(*gpu, {points, C}, DType::f32);
  gpu->sphere_noise(*plan, keys, og);
  const ArrayF got = gpu->to_host(og);
  // 1e-4: both evaluate the Legendre sums in double; the CPU sums the Fourier
  // series directly in float, the GPU by a float FFT -- both ~1e-6.
  check_close("sphere_noise " + std::to_string(n_lat) + "x" + std::to_string(n_lon), got, ref,
              1e-4);

  // Batching: one key alone gives (to FFT rounding) the same column.
  const std::vector<NoiseKey> one{keys[33]};
  Tensor o1 = poisoned(*gpu, {points, 1}, DType::f32);
  gpu->sphere_noise(*plan, one, o1);
  ArrayF col({points, 1});
  for (int64_t p = 0; p < points; ++p) col.data[p] = got.data[p * C + 33];
  check_close("sphere_noise single key", gpu->to_host(o1), col, 1e-6);

  // bf16 output
  Tensor ob = poisoned(*gpu, {points, C}, DType::bf16);
  gpu->sphere_noise(*plan, keys, ob);
  check_close("sphere_noise bf16 out", gpu->to_host(ob), ref, 2e-2);
}

}  // namespace

// A grid small enough for compute-sanitizer (scripts/gpu-check.sh): the
// Legendre stage's shared-memory stages and cp.async copies.
TEST_CASE("cuda sphere_noise: small case for compute-sanitizer", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  check_sphere_noise(25, 48);
}

TEST_CASE("cuda sphere_noise matches the CPU reference", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  for (auto [n_lat, n_lon] : {std::pair<int64_t, int64_t>{46, 90}, {181, 360}})
    check_sphere_noise(n_lat, n_lon);
}
