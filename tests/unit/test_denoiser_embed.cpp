// The grid-node embedding's exact rearrangements (Denoiser::set_conditioning,
// Denoiser::grid_embed_first_layer, upload_denoiser_weights), on the CPU
// backend with the tiny fixture model:
//  * the static columns of the embedder's input rows, written once per
//    set_conditioning, serve every later call (and are replaced when the
//    features change);
//  * the stacked first-layer weight holds the static rows, zeros, the
//    noisy-target rows and zeros at the offsets the input rows use;
//  * the chunk size of the per-call copy + GEMM does not change the output.
// Tolerance 1e-6 (relative L2): the paths add the same float32 products (the
// padding only adds zeros), so the CPU results are expected to be identical;
// 1e-6 leaves room for a summation-order change in the backend's GEMM
// without hiding a wrong row, column or stale buffer, each of which changes
// the output by far more (see the "differs" check).
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "core/error.h"
#include "devices/device_factory.h"
#include "model/checkpoint.h"
#include "model/denoiser.h"
#include "model/denoiser_weights.h"
#include "model/param_schema.h"
#include "runtime/model_setup.h"
#include "test_cuda_util.h"
#include "test_tiny_model.h"

using namespace gencast;
using gencast::testing::random_normal;
using gencast::testing::tiny_model;

namespace {

using gencast::test::relative_l2;

constexpr double kTolerance = 1e-6;  // see the file comment




std::unique_ptr<Denoiser> make(Backend& b, int64_t chunk_rows = kDefaultChunkRows) {
  const PreparedModel& model = tiny_model();
  DenoiserOptions options;
  options.chunk_rows = chunk_rows;
  options.attention = model.attention.kind;
  return std::make_unique<Denoiser>(b, model.checkpoint.config, model.checkpoint.params,
                                    model.graph, grid_input_rows(model.layout), options);
}

std::vector<float> denoise(Backend& b, Denoiser& d, float sigma, const ArrayF& x) {
  const Tensor xt = b.from_host(x, DType::f32);
  Tensor out = b.empty({d.n_grid(), d.n_targets()}, DType::f32);
  d.denoise(sigma, xt, out);
  return b.to_host(out).data;
}

}  // namespace

TEST_CASE("grid embedding: calls after one set_conditioning equal a fresh denoiser per call",
          "[denoiser][embed]") {
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  auto shared = make(b);
  const ArrayF f1 = random_normal({shared->n_grid(), shared->n_conditioning()}, 21);
  const ArrayF f2 = random_normal({shared->n_grid(), shared->n_conditioning()}, 22);
  shared->set_conditioning(f1);
  uint32_t seed = 30;
  std::vector<float> last;
  for (float sigma : {80.f, 2.5f, 0.3f, 0.03f}) {
    INFO("sigma " << sigma);
    const ArrayF x = random_normal({shared->n_grid(), shared->n_targets()}, ++seed);
    const std::vector<float> reused = denoise(b, *shared, sigma, x);
    auto fresh = make(b);
    fresh->set_conditioning(f1);
    CHECK(relative_l2(reused, denoise(b, *fresh, sigma, x)) <= kTolerance);
    last = reused;
  }

  // New features replace the static part: the next call matches a fresh
  // denoiser on them, and differs from the same call on the old ones.
  const ArrayF x = random_normal({shared->n_grid(), shared->n_targets()}, seed);
  shared->set_conditioning(f2);
  const std::vector<float> reused = denoise(b, *shared, 0.03f, x);
  auto fresh = make(b);
  fresh->set_conditioning(f2);
  CHECK(relative_l2(reused, denoise(b, *fresh, 0.03f, x)) <= kTolerance);
  CHECK(relative_l2(reused, last) > 1e-3);
}

TEST_CASE("grid embedding: input blocks padded to multiples of 8 columns", "[denoiser][embed]") {
  CHECK(padded_embed_width(183) == 184);
  CHECK(padded_embed_width(184) == 184);
  CHECK(padded_embed_width(84) == 88);
  CHECK(padded_embed_width(1) == 8);
  // 0.25° and 1°: 183 static features and 84 targets give 272 columns,
  // 544 bytes a row in bf16 (a multiple of 16).
  CHECK(grid_embed_input_width(183, 84) == 272);
  CHECK(grid_embed_input_width(184, 88) == 272);
}

TEST_CASE("grid embedding: the stacked first-layer weight is static | 0 | targets | 0",
          "[denoiser][embed]") {
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  const PreparedModel& model = tiny_model();
  const GridInputRows rows = grid_input_rows(model.layout);
  const DenoiserWeights w =
      upload_denoiser_weights(b, model.checkpoint.config, model.checkpoint.params, rows);
  const ArrayF& w0 = model.checkpoint.params.get(
      "grid2mesh_gnn/~_networks_builder/encoder_nodes_grid_nodes_mlp/~/linear_0:w");
  const int64_t L = w0.dim(1), grid_in = w0.dim(0);
  const auto n_cond = static_cast<int64_t>(rows.conditioning_rows.size());
  const auto T = static_cast<int64_t>(rows.target_rows.size());
  REQUIRE(n_cond + 3 + T == grid_in);  // every checkpoint row is used once

  REQUIRE(w.grid_embed.first_parts.size() == 1);
  const ArrayF s = b.to_host(w.grid_embed.first_parts[0]);
  const int64_t target_col = w.grid_embed_target_col, K = s.dim(0);
  REQUIRE(s.dim(1) == L);
  CHECK(target_col == padded_embed_width(n_cond + 3));
  CHECK(K == grid_embed_input_width(n_cond + 3, T));
  // The fixture's 183 static features and 84 targets both get padding.
  REQUIRE(target_col > n_cond + 3);
  REQUIRE(K > target_col + T);
  int64_t mismatches = 0, nonzero_padding = 0;
  for (int64_t r = 0; r < K; ++r) {
    int64_t src = -1;  // checkpoint row, -1 = padding
    if (r < n_cond) src = rows.conditioning_rows[static_cast<size_t>(r)];
    else if (r < n_cond + 3) src = grid_in - 3 + (r - n_cond);
    else if (r >= target_col && r < target_col + T)
      src = rows.target_rows[static_cast<size_t>(r - target_col)];
    for (int64_t c = 0; c < L; ++c) {
      const float v = s.data[static_cast<size_t>(r * L + c)];
      if (src < 0) nonzero_padding += v != 0.f;
      else mismatches += v != w0.data[static_cast<size_t>(src * L + c)];
    }
  }
  CHECK(mismatches == 0);
  CHECK(nonzero_padding == 0);
}

TEST_CASE("grid embedding: the chunk size does not change the output", "[denoiser][embed]") {
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  const PreparedModel& model = tiny_model();
  const int64_t G = model.graph.n_grid;
  const auto n_cond = static_cast<int64_t>(grid_input_rows(model.layout).conditioning_rows.size());
  const ArrayF f = random_normal({G, n_cond}, 41);
  // 1001-row chunks: odd, and 4140 = 4 x 1001 + 136 leaves a short last chunk.
  auto whole = make(b, kDefaultChunkRows);
  auto chunked = make(b, 1001);
  whole->set_conditioning(f);
  chunked->set_conditioning(f);
  uint32_t seed = 42;
  for (float sigma : {40.f, 1.7f}) {
    INFO("sigma " << sigma);
    const ArrayF x = random_normal({G, node_output_size(model.checkpoint.config.task)}, ++seed);
    CHECK(relative_l2(denoise(b, *chunked, sigma, x), denoise(b, *whole, sigma, x)) <=
          kTolerance);
  }
  // The count is of the model's work, the same whatever the chunks.
  CHECK(chunked->flops_per_call() == whole->flops_per_call());
}

TEST_CASE("grid embedding: denoise before set_conditioning is an error", "[denoiser][embed]") {
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  auto d = make(b);
  const ArrayF x = random_normal({d->n_grid(), d->n_targets()}, 7);
  CHECK_THROWS_AS(denoise(b, *d, 1.f, x), RuntimeFailure);
}

namespace {

// Records which tensors the weight loader freezes.
class FreezeRecorder : public CpuBackend {
 public:
  void freeze(const Tensor& t) override { frozen.insert(t.data()); }
  std::set<const void*> frozen;
};

}  // namespace

TEST_CASE("weights: every bias is frozen after upload, no weight matrix is",
          "[denoiser][embed]") {
  FreezeRecorder b;
  const PreparedModel& model = tiny_model();
  const DenoiserWeights w = upload_denoiser_weights(b, model.checkpoint.config,
                                                    model.checkpoint.params,
                                                    grid_input_rows(model.layout));
  std::set<const void*> biases, matrices;
  const auto mlp = [&](const SplitMlp& m) {
    biases.insert(m.first_bias.data());
    for (const Tensor& p : m.first_parts) matrices.insert(p.data());
    for (const LinearWeights& l : m.rest) {
      matrices.insert(l.w.data());
      if (l.bias()) biases.insert(l.b.data());
    }
  };
  for (const SplitMlp* m : {&w.grid_embed, &w.mesh_embed, &w.g2m_edge_embed, &w.g2m_edge_update,
                            &w.g2m_mesh_update, &w.g2m_grid_update, &w.m2g_edge_embed,
                            &w.m2g_edge_update, &w.m2g_grid_update, &w.output_mlp})
    mlp(*m);
  for (const TransformerBlockWeights& blk : w.blocks) {
    matrices.insert(blk.w_qkv.data());
    for (const LinearWeights* l : {&blk.attn_out, &blk.ffw_up, &blk.ffw_down}) {
      matrices.insert(l->w.data());
      if (l->bias()) biases.insert(l->b.data());
    }
  }
  REQUIRE(biases.size() > 20);  // the tiny model still has every layer
  for (const void* p : biases) CHECK(b.frozen.count(p) == 1);
  for (const void* p : matrices) CHECK(b.frozen.count(p) == 0);
  CHECK(b.frozen.size() == biases.size());
}
