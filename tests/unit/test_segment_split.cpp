// Two-level segment sums (model/segment_split.h, Denoiser's heavy-receiver
// path): the plan's invariants, the two-level sum against the single-level one
// on the CPU backend, and the tiny denoiser with the split forced on.
// Tolerance 1e-6 (relative L2) throughout: both paths add the same float32
// values, only in a different order; sequential float32 sums of up to ~1000
// terms differ by ~4e-7 (measured), the tiny denoiser's output by ~2e-7.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "devices/device_factory.h"
#include "model/checkpoint.h"
#include "model/denoiser.h"
#include "model/random_checkpoint.h"
#include "model/segment_split.h"
#include "runtime/model_setup.h"
#include "test_cuda_util.h"
#include "test_tiny_model.h"

using namespace gencast;
using gencast::testing::random_normal;
using gencast::testing::tiny_model;

namespace {

using gencast::test::relative_l2;

// Receiver offsets from degrees, starting at `base`.
std::vector<int32_t> offsets_from(const std::vector<int32_t>& degrees, int32_t base) {
  std::vector<int32_t> offsets{base};
  for (int32_t d : degrees) offsets.push_back(offsets.back() + d);
  return offsets;
}


Tensor i32_column(Backend& b, const std::vector<int32_t>& v) {
  Tensor t = b.empty({static_cast<int64_t>(v.size()), 1}, DType::i32);
  b.upload_i32(v.data(), t);
  return t;
}


}  // namespace

TEST_CASE("segment split: pieces of at most K edges cover every edge once, in order",
          "[segment_split]") {
  // Heavy, light and empty receivers, empty ones first and last too.
  const std::vector<int32_t> degrees{0, 5, 1, 0, 0, 130, 64, 65, 3, 0, 200, 0};
  for (int32_t base : {0, 7}) {
    const std::vector<int32_t> offsets = offsets_from(degrees, base);
    for (int64_t K : {1, 2, 4, 64, 1000}) {
      INFO("base " << base << ", K " << K);
      const SegmentSplit s = plan_segment_split(offsets, K);
      REQUIRE(s.piece_edges == K);
      REQUIRE(s.receiver_pieces.size() == degrees.size() + 1);
      REQUIRE(s.receiver_pieces.front() == 0);
      REQUIRE(s.receiver_pieces.back() == s.pieces());
      REQUIRE(s.piece_offsets.front() == offsets.front());
      REQUIRE(s.piece_offsets.back() == offsets.back());
      int64_t expected_pieces = 0;
      for (size_t r = 0; r < degrees.size(); ++r) {
        const int32_t p0 = s.receiver_pieces[r], p1 = s.receiver_pieces[r + 1];
        INFO("receiver " << r << " with " << degrees[r] << " edges");
        REQUIRE(p1 - p0 == (degrees[r] + K - 1) / K);
        expected_pieces += p1 - p0;
        // The receiver's pieces start at its first edge and end at its last.
        CHECK(s.piece_offsets[static_cast<size_t>(p0)] == offsets[r]);
        CHECK(s.piece_offsets[static_cast<size_t>(p1)] == offsets[r + 1]);
        for (int32_t p = p0; p < p1; ++p) {
          const int32_t size = s.piece_offsets[static_cast<size_t>(p) + 1] -
                               s.piece_offsets[static_cast<size_t>(p)];
          CHECK(size >= 1);
          CHECK(size <= K);
        }
      }
      CHECK(s.pieces() == expected_pieces);
    }
  }
  CHECK(max_degree(offsets_from(degrees, 0), 0, 12) == 200);
  CHECK(max_degree(offsets_from(degrees, 0), 5, 10) == 130);
  CHECK(max_degree(offsets_from(degrees, 0), 3, 5) == 0);
  CHECK_THROWS_AS(plan_segment_split(offsets_from(degrees, 0), 0), std::invalid_argument);
  CHECK_THROWS_AS(plan_segment_split({0, 3, 2}, 4), std::invalid_argument);
}

TEST_CASE("segment split: two-level segment_sum equals the single-level one (CPU)",
          "[segment_split]") {
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;
  std::mt19937 rng(1234);
  // Mostly light receivers, some heavy ones and some without edges.
  std::vector<int32_t> degrees(300);
  for (auto& d : degrees) {
    const auto u = rng() % 10;
    const auto heavy = 200 + rng() % 800, light = rng() % 40;
    d = static_cast<int32_t>(u == 0 ? 0 : u == 1 ? heavy : light);
  }
  degrees[0] = 0;
  degrees[299] = 0;
  const std::vector<int32_t> offsets = offsets_from(degrees, 0);
  const int64_t E = offsets.back(), C = 24;
  const Tensor x = b.from_host(random_normal({E, C}, 5), DType::f32);
  const Tensor offsets_t = i32_column(b, offsets);
  const SegmentSplit s = plan_segment_split(offsets, 64);
  const Tensor piece_offsets = i32_column(b, s.piece_offsets);
  const Tensor receiver_pieces = i32_column(b, s.receiver_pieces);

  // The whole set and a sub-range of receivers (as the denoiser's chunks use
  // row views whose offsets do not start at 0).
  for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 300}, {37, 211}}) {
    INFO("receivers [" << r0 << ", " << r1 << ")");
    const int64_t nr = r1 - r0;
    const int64_t e0 = offsets[static_cast<size_t>(r0)], e1 = offsets[static_cast<size_t>(r1)];
    const int64_t p0 = s.receiver_pieces[static_cast<size_t>(r0)];
    const int64_t p1 = s.receiver_pieces[static_cast<size_t>(r1)];
    const Tensor xs = x.rows(e0, e1 - e0);
    Tensor single = b.empty({nr, C}, DType::f32);
    b.segment_sum(xs, offsets_t.rows(r0, nr + 1), single);
    Tensor partial = b.empty({p1 - p0, C}, DType::f32);
    Tensor two = b.empty({nr, C}, DType::f32);
    b.fill(two, NAN);  // every row must be written, empty receivers included
    b.segment_sum(xs, piece_offsets.rows(p0, p1 - p0 + 1), partial);
    b.segment_sum(partial, receiver_pieces.rows(r0, nr + 1), two);
    const ArrayF hs = b.to_host(single), ht = b.to_host(two);
    CHECK(relative_l2(ht.data, hs.data) <= 1e-6);
    // A receiver without edges sums to exactly zero.
    for (int64_t r = r0; r < r1; ++r)
      if (degrees[static_cast<size_t>(r)] == 0)
        for (int64_t c = 0; c < C; ++c)
          CHECK(ht.data[static_cast<size_t>((r - r0) * C + c)] == 0.f);
    // Not trivially zero.
    CHECK(relative_l2(hs.data, std::vector<float>(hs.data.size(), 0.f)) > 0);
  }
}

TEST_CASE("segment split: the tiny denoiser's output is unchanged when the split is forced",
          "[denoiser][segment_split]") {
  const PreparedModel& model = tiny_model();
  const GridInputRows rows = grid_input_rows(model.layout);
  auto backend = make_backend("cpu", Precision::fp32);
  Backend& b = *backend;

  const auto run = [&](int64_t split_edges, int64_t chunk_rows, int64_t* g2m_split,
                       int64_t* m2g_split) {
    DenoiserOptions options;
    options.segment_split_edges = split_edges;
    options.chunk_rows = chunk_rows;
    options.attention = model.attention.kind;
    Denoiser d(b, model.checkpoint.config, model.checkpoint.params, model.graph, rows, options);
    *g2m_split = d.g2m_split_chunks();
    *m2g_split = d.m2g_split_chunks();
    d.set_conditioning(random_normal({d.n_grid(), d.n_conditioning()}, 11));
    const Tensor x = b.from_host(random_normal({d.n_grid(), d.n_targets()}, 12), DType::f32);
    Tensor out = b.empty({d.n_grid(), d.n_targets()}, DType::f32);
    DenoiserTrace trace;
    d.trace_next_call(&trace);
    d.denoise(2.5f, x, out);
    return std::make_pair(b.to_host(out), trace.mesh_latent_after_grid2mesh);
  };

  // Small chunks so that split and unsplit chunks mix within one edge set.
  for (int64_t chunk_rows : {kDefaultChunkRows, int64_t{1000}}) {
    int64_t g2m = 0, m2g = 0;
    const auto plain = run(0, chunk_rows, &g2m, &m2g);
    REQUIRE(g2m == 0);
    REQUIRE(m2g == 0);
    // K = 4 splits grid2mesh receivers only, K = 2 mesh2grid's too (3 edges each).
    for (int64_t K : {4, 2}) {
      INFO("chunk rows " << chunk_rows << ", K " << K);
      const auto split = run(K, chunk_rows, &g2m, &m2g);
      CHECK(g2m > 0);
      CHECK((m2g > 0) == (K < 3));
      CHECK(relative_l2(split.second.data, plain.second.data) <= 1e-6);
      CHECK(relative_l2(split.first.data, plain.first.data) <= 1e-6);
    }
  }
}

// Host-only numbers for the 0.25° graph (run by hand: "[.][segment_split_0p25]").
TEST_CASE("segment split: heavy receivers of the 0.25 degree graph", "[.][segment_split_0p25]") {
  const ModelConfig config = official_model_config("0p25deg");
  std::vector<float> lat, lon;
  for (int i = 0; i < 721; ++i) lat.push_back(static_cast<float>(-90.0 + 0.25 * i));
  for (int i = 0; i < 1440; ++i) lon.push_back(static_cast<float>(0.25 * i));
  const DenoiserGraph graph = build_denoiser_graph(lat, lon, graph_options(config, "0p25deg"));
  const int64_t L = config.denoiser.latent_size;
  const DenoiserOptions defaults;
  const int64_t K = defaults.segment_split_edges;
  for (const auto* set : {&graph.grid2mesh, &graph.mesh2grid}) {
    const std::vector<int32_t>& o = set->receiver_offsets;
    const auto R = static_cast<int64_t>(o.size()) - 1;
    int64_t heavy = 0, above256 = 0;
    for (int64_t r = 0; r < R; ++r) {
      const int64_t d = max_degree(o, r, r + 1);
      heavy += d > K;
      above256 += d > 256;
    }
    const SegmentSplit s = plan_segment_split(o, K);
    const auto chunks = Denoiser::plan_chunks(o, defaults.chunk_rows);
    int64_t split_chunks = 0, chunks256 = 0, most_pieces = 0;
    for (const auto& c : chunks) {
      const int64_t d = max_degree(o, c.recv_begin, c.recv_end);
      if (d > 256) ++chunks256;
      if (d <= K) continue;
      ++split_chunks;
      const int64_t pieces = s.receiver_pieces[static_cast<size_t>(c.recv_end)] -
                             s.receiver_pieces[static_cast<size_t>(c.recv_begin)];
      most_pieces = std::max(most_pieces, pieces);
    }
    std::printf(
        "%s: %lld receivers, %lld edges, max degree %lld, %lld receivers > %lld edges, "
        "%lld > 256; %lld pieces; %zu chunks, %lld with a receiver > %lld (split), %lld with one "
        "> 256; partial scratch %lld rows = %.2f MB f32 at L=%lld; offsets %.2f MB\n",
        set == &graph.grid2mesh ? "grid2mesh" : "mesh2grid", static_cast<long long>(R),
        static_cast<long long>(set->size()), static_cast<long long>(max_degree(o, 0, R)),
        static_cast<long long>(heavy), static_cast<long long>(K), static_cast<long long>(above256),
        static_cast<long long>(s.pieces()), chunks.size(), static_cast<long long>(split_chunks),
        static_cast<long long>(K), static_cast<long long>(chunks256),
        static_cast<long long>(most_pieces), static_cast<double>(most_pieces * L * 4) / 1e6,
        static_cast<long long>(L),
        static_cast<double>((s.piece_offsets.size() + s.receiver_pieces.size()) * 4) / 1e6);
    // The choice of K: the second level's longest sum (pieces of the heaviest
    // receiver) stays within K too.
    int64_t most_receiver_pieces = 0;
    for (int64_t r = 0; r < R; ++r)
      most_receiver_pieces = std::max<int64_t>(
          most_receiver_pieces, s.receiver_pieces[static_cast<size_t>(r) + 1] -
                                    s.receiver_pieces[static_cast<size_t>(r)]);
    std::printf("  longest level-2 sum: %lld pieces\n",
                static_cast<long long>(most_receiver_pieces));
    CHECK(most_receiver_pieces <= K);
  }
}
