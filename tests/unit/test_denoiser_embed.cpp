// The grid-node embedding's exact rearrangements (Denoiser::set_conditioning,
// Denoiser::grid_embed_targets, upload_denoiser_weights), on the CPU backend
// with the tiny fixture model:
//  * the static part of the first layer, computed once per set_conditioning,
//    serves every later call (and is recomputed when the features change);
//  * the static rows are zero-padded to a multiple of 8;
//  * the noisy-target GEMM over groups of grid nodes (block-diagonal weight)
//    gives the same output as one node per row, tail rows included.
// Tolerance 1e-6 (relative L2): the paths add the same float32 products (the
// padding and the off-diagonal blocks only add zeros), so the CPU results are
// expected to be identical; 1e-6 leaves room for a summation-order change in
// the backend's GEMM without hiding a wrong row, column or stale buffer, each
// of which changes the output by far more (see the "differs" checks).
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "io/checkpoint.h"
#include "model/denoiser.h"
#include "model/denoiser_weights.h"
#include "model/param_schema.h"
#include "runtime/model_setup.h"

using namespace gencast;

namespace {

constexpr double kTolerance = 1e-6;  // see the file comment

// Relative L2 of a against b; infinity when anything is not finite, so NaN never passes.
double relative_l2(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    const double d = double{a[i]} - double{b[i]};
    num += d * d;
    den += double{b[i]} * double{b[i]};
  }
  if (den == 0) return num == 0 ? 0 : INFINITY;
  return std::sqrt(num / den);
}

ArrayF random_normal(Shape shape, uint32_t seed) {
  ArrayF a(std::move(shape));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (float& v : a.data) v = dist(rng);
  return a;
}

// The fixture's model on its 4° grid with poles (lat -90..90, lon 0..356).
const PreparedModel& tiny_model() {
  static const PreparedModel model = [] {
    Checkpoint checkpoint =
        load_checkpoint(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/tiny_checkpoint.npz");
    std::vector<float> lat, lon;
    for (int i = 0; i < 46; ++i) lat.push_back(static_cast<float>(-90 + 4 * i));
    for (int i = 0; i < 90; ++i) lon.push_back(static_cast<float>(4 * i));
    return prepare_model(std::move(checkpoint), "auto", lat, lon);
  }();
  return model;
}

std::unique_ptr<Denoiser> make(Backend& b, int64_t chunk_rows = int64_t{1} << 17,
                               int64_t row_group = 0, bool cache_static = true) {
  const PreparedModel& model = tiny_model();
  DenoiserOptions options;
  options.chunk_rows = chunk_rows;
  options.attention = model.attention.kind;
  options.grid_embed_row_group = row_group;
  options.cache_grid_embed_static = cache_static;
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

TEST_CASE("grid embedding: row groups for 16-byte GEMM rows", "[denoiser][embed]") {
  CHECK(grid_embed_row_group(84, DType::bf16) == 2);  // 168 bytes; a pair is 336
  CHECK(grid_embed_row_group(84, DType::f32) == 1);   // 336 bytes
  CHECK(grid_embed_row_group(88, DType::bf16) == 1);  // 176 bytes
  CHECK(grid_embed_row_group(4, DType::bf16) == 2);   // 8 bytes; a pair is 16
  CHECK(grid_embed_row_group(83, DType::bf16) == 1);  // would need 8 rows
  CHECK(padded_static_width(183) == 184);
  CHECK(padded_static_width(184) == 184);
  CHECK(padded_static_width(1) == 8);
}

TEST_CASE("grid embedding: zero-padded static rows and the block-diagonal target weight",
          "[denoiser][embed]") {
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  const PreparedModel& model = tiny_model();
  const GridInputRows rows = grid_input_rows(model.layout);
  const int64_t group = 3;
  const DenoiserWeights w =
      upload_denoiser_weights(b, model.checkpoint.config, model.checkpoint.params, rows, group);
  const ArrayF& w0 = model.checkpoint.params.get(
      "grid2mesh_gnn/~_networks_builder/encoder_nodes_grid_nodes_mlp/~/linear_0:w");
  const int64_t L = w0.dim(1), grid_in = w0.dim(0);
  const auto n_cond = static_cast<int64_t>(rows.conditioning_rows.size());
  const auto T = static_cast<int64_t>(rows.target_rows.size());

  // Static rows: the checkpoint's conditioning rows, its 3 structural rows, then zeros.
  const ArrayF s = b.to_host(w.grid_embed.first_parts.at(0));
  const int64_t width = s.dim(0);
  CHECK(width % 8 == 0);
  REQUIRE(width > n_cond + 3);  // the fixture's 183 static features do get padding
  REQUIRE(s.dim(1) == L);
  int64_t mismatches = 0, nonzero_padding = 0;
  for (int64_t r = 0; r < width; ++r) {
    const int64_t src = r < n_cond ? rows.conditioning_rows[static_cast<size_t>(r)]
                                   : grid_in - 3 + (r - n_cond);
    for (int64_t c = 0; c < L; ++c) {
      const float v = s.data[static_cast<size_t>(r * L + c)];
      if (r >= n_cond + 3) nonzero_padding += v != 0.f;
      else mismatches += v != w0.data[static_cast<size_t>(src * L + c)];
    }
  }
  CHECK(mismatches == 0);
  CHECK(nonzero_padding == 0);

  // diag(W, W, W) of the noisy-target rows.
  CHECK(w.grid_embed_group == group);
  const ArrayF g = b.to_host(w.grid_embed_targets_grouped);
  REQUIRE(g.dim(0) == group * T);
  REQUIRE(g.dim(1) == group * L);
  int64_t wrong = 0;
  for (int64_t bi = 0; bi < group; ++bi)
    for (int64_t bj = 0; bj < group; ++bj)
      for (int64_t k = 0; k < T; ++k)
        for (int64_t c = 0; c < L; ++c) {
          const float v = g.data[static_cast<size_t>((bi * T + k) * group * L + bj * L + c)];
          const int64_t src = rows.target_rows[static_cast<size_t>(k)];
          wrong += v != (bi == bj ? w0.data[static_cast<size_t>(src * L + c)] : 0.f);
        }
  CHECK(wrong == 0);
}

TEST_CASE("grid embedding: grouped target GEMM (with tail rows) gives the same output",
          "[denoiser][embed]") {
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  const PreparedModel& model = tiny_model();
  const int64_t G = model.graph.n_grid;
  const auto n_cond = static_cast<int64_t>(grid_input_rows(model.layout).conditioning_rows.size());
  const ArrayF f = random_normal({G, n_cond}, 41);
  const ArrayF x = random_normal({G, node_output_size(model.checkpoint.config.task)}, 42);
  // 1001-row chunks: odd, and 4140 = 4 x 1001 + 136, so groups of 2 and 3
  // leave tail rows in every chunk but the last (2) or in all of them (3).
  for (int64_t chunk_rows : {int64_t{1} << 17, int64_t{1001}}) {
    auto plain = make(b, chunk_rows, 1);
    REQUIRE(plain->grid_embed_row_group() == 1);
    plain->set_conditioning(f);
    const std::vector<float> expected = denoise(b, *plain, 1.7f, x);
    for (int64_t group : {2, 3}) {
      INFO("chunk rows " << chunk_rows << ", group " << group);
      auto d = make(b, chunk_rows, group);
      REQUIRE(d->grid_embed_row_group() == group);
      d->set_conditioning(f);
      CHECK(relative_l2(denoise(b, *d, 1.7f, x), expected) <= kTolerance);
    }
  }
  // Automatic on the CPU backend: float32 rows of 84 targets are 336 bytes.
  CHECK(make(b)->grid_embed_row_group() == 1);
}

TEST_CASE("grid embedding: the per-step static cache and the per-call static GEMM agree",
          "[denoiser][embed]") {
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  auto cached = make(b, 1001, 0, true);
  auto per_call = make(b, 1001, 0, false);
  const ArrayF f = random_normal({cached->n_grid(), cached->n_conditioning()}, 51);
  cached->set_conditioning(f);
  per_call->set_conditioning(f);
  uint32_t seed = 60;
  for (float sigma : {40.f, 0.5f}) {
    INFO("sigma " << sigma);
    const ArrayF x = random_normal({cached->n_grid(), cached->n_targets()}, ++seed);
    CHECK(relative_l2(denoise(b, *cached, sigma, x), denoise(b, *per_call, sigma, x)) <=
          kTolerance);
  }
}
