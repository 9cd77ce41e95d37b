// The one-mechanism rule of core/parallel.h, checked where it is used: the
// CPU backend's ops, the noise synthesis and the graph build give the same
// bits with one worker as with seven (several ranges whatever the machine),
// a loop body's error reaches the caller, and no OpenMP or raw thread loop
// has crept back into the sources.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "core/parallel.h"
#include "graph/denoiser_graph.h"
#include "test_tiny_model.h"

namespace gencast {
namespace {

// Sizes below are chosen so that every op's min_rows lets seven workers cut
// it into several ranges; the serial reference runs on the caller alone.
constexpr int kManyWorkers = 7;

using testing::random_uniform;

// Runs `op` (which must rebuild its output from scratch) with one worker and
// with kManyWorkers, and requires the same bits, finite and not all zero.
void require_worker_invariant(const std::function<ArrayF()>& op) {
  ArrayF serial, split;
  {
    ScopedParallelWorkers one(1);
    serial = op();
  }
  {
    ScopedParallelWorkers many(kManyWorkers);
    split = op();
  }
  REQUIRE(serial.data.size() == split.data.size());
  REQUIRE(!serial.data.empty());
  const size_t bytes = serial.data.size() * sizeof(float);
  CHECK(std::memcmp(serial.data.data(), split.data.data(), bytes) == 0);
  const auto& v = serial.data;
  CHECK(std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); }));
  CHECK(std::any_of(v.begin(), v.end(), [](float x) { return x != 0.f; }));
}

// Segment offsets starting at `base` for `rows` segments of 0..max_len rows.
std::vector<int32_t> segment_offsets(int64_t rows, int max_len, int32_t base, uint32_t seed) {
  std::vector<int32_t> off{base};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> len(0, max_len);
  for (int64_t r = 0; r < rows; ++r) off.push_back(off.back() + len(rng));
  return off;
}

}  // namespace

TEST_CASE("cpu backend ops give the same bits with 1 and 7 workers", "[parallel][backend]") {
  CpuBackend cpu;

  SECTION("linear with bias, activation, alpha and beta") {
    const int64_t R = 600, K = 96, N = 80;
    const ArrayF x = random_uniform({R, K}, 1, -1.f, 1.f), w = random_uniform({K, N}, 2, -0.2f, 0.2f);
    const ArrayF b = random_uniform({N}, 3, -0.5f, 0.5f), y0 = random_uniform({R, N}, 4, -1.f, 1.f);
    Tensor xt = cpu.from_host(x, DType::f32), wt = cpu.from_host(w, DType::f32);
    Tensor bt = cpu.from_host(b, DType::f32);
    require_worker_invariant([&] {
      Tensor y = cpu.from_host(y0, DType::f32);
      cpu.linear(xt, wt, &bt, y, Activation::swish, 0.7f, 0.5f);
      return cpu.to_host(y);
    });
  }

  SECTION("layer_norm_cond, accumulating") {
    const int64_t R = 20000, C = 48;
    const ArrayF x = random_uniform({R, C}, 5, -3.f, 3.f), cond = random_uniform({2 * C}, 6, -1.f, 1.f);
    const ArrayF y0 = random_uniform({R, C}, 7, -1.f, 1.f);
    Tensor xt = cpu.from_host(x, DType::f32), ct = cpu.from_host(cond, DType::f32);
    require_worker_invariant([&] {
      Tensor y = cpu.from_host(y0, DType::f32);
      cpu.layer_norm_cond(xt, ct, y, true);
      return cpu.to_host(y);
    });
  }

  SECTION("gather2_add_act") {
    const int64_t R = 30000, C = 32, ra = 500, rb = 700;
    const ArrayF a = random_uniform({ra, C}, 8, -2.f, 2.f), b = random_uniform({rb, C}, 9, -2.f, 2.f);
    const ArrayF y0 = random_uniform({R, C}, 10, -1.f, 1.f);
    std::vector<int32_t> ia(R), ib(R);
    std::mt19937 rng(11);
    for (int64_t r = 0; r < R; ++r) {
      ia[r] = static_cast<int32_t>(rng() % ra);
      ib[r] = static_cast<int32_t>(rng() % rb);
    }
    Tensor at = cpu.from_host(a, DType::f32), bt = cpu.from_host(b, DType::f32);
    Tensor iat = cpu.from_host_i32(ia), ibt = cpu.from_host_i32(ib);
    require_worker_invariant([&] {
      Tensor y = cpu.from_host(y0, DType::f32);
      cpu.gather2_add_act(at, iat, bt, ibt, y, Activation::gelu);
      return cpu.to_host(y);
    });
  }

  SECTION("segment_sum and layer_norm_cond_segment_sum") {
    const int64_t N = 5000, C = 64;
    const std::vector<int32_t> off = segment_offsets(N, 9, 3, 12);
    const int64_t E = off.back() - off.front();
    const ArrayF x = random_uniform({E, C}, 13, -3.f, 3.f), cond = random_uniform({2 * C}, 14, -1.f, 1.f);
    Tensor xt = cpu.from_host(x, DType::f32), ct = cpu.from_host(cond, DType::f32);
    Tensor ot = cpu.from_host_i32(off);
    require_worker_invariant([&] {
      Tensor y = cpu.empty({N, C}, DType::f32);
      cpu.segment_sum(xt, ot, y);
      return cpu.to_host(y);
    });
    require_worker_invariant([&] {
      Tensor y = cpu.empty({N, C}, DType::f32);
      cpu.layer_norm_cond_segment_sum(xt, ct, ot, y);
      return cpu.to_host(y);
    });
  }

  SECTION("attention over ragged neighbourhoods") {
    const int64_t N = 1500;
    const int H = 4, D = 16;
    Csr csr;
    csr.offsets.push_back(0);
    std::mt19937 rng(15);
    for (int64_t n = 0; n < N; ++n) {
      std::set<int32_t> nb{static_cast<int32_t>(n)};
      const auto count = 1 + rng() % 40;
      while (nb.size() < count) nb.insert(static_cast<int32_t>(rng() % N));
      csr.indices.insert(csr.indices.end(), nb.begin(), nb.end());
      csr.offsets.push_back(static_cast<int64_t>(csr.indices.size()));
    }
    const ArrayF qkv = random_uniform({N, 3 * H * D}, 16, -2.f, 2.f);
    Tensor qt = cpu.from_host(qkv, DType::f32);
    const auto plan = cpu.plan_attention(csr, H, D, AttentionTiles::sparse);
    require_worker_invariant([&] {
      Tensor out = cpu.empty({N, int64_t{H} * D}, DType::f32);
      cpu.attention(*plan, qt, out);
      return cpu.to_host(out);
    });
  }

  SECTION("axpby and copy_columns") {
    const int64_t n = int64_t{1} << 20, R = 40000, C = 16, D = 40;
    const ArrayF x = random_uniform({n}, 17, -1.f, 1.f), y = random_uniform({n}, 18, -1.f, 1.f);
    Tensor xt = cpu.from_host(x, DType::f32), yt = cpu.from_host(y, DType::f32);
    require_worker_invariant([&] {
      Tensor out = cpu.empty({n}, DType::f32);
      cpu.axpby(0.3f, xt, -1.7f, yt, out);
      return cpu.to_host(out);
    });
    const ArrayF src = random_uniform({R, C}, 19, -1.f, 1.f), dst0 = random_uniform({R, D}, 20, -1.f, 1.f);
    Tensor st = cpu.from_host(src, DType::f32);
    require_worker_invariant([&] {
      Tensor dst = cpu.from_host(dst0, DType::f32);
      cpu.copy_columns(st, 1.5f, dst, 8);
      return cpu.to_host(dst);
    });
  }

  SECTION("sphere_noise, a full and a partial channel chunk") {
    const auto plan = cpu.plan_noise(46, 90);
    std::vector<NoiseKey> keys;
    for (uint32_t c = 0; c < 40; ++c) keys.push_back(NoiseKey{9, 2, 5, c});
    require_worker_invariant([&] {
      Tensor out = cpu.empty({46 * 90, static_cast<int64_t>(keys.size())}, DType::f32);
      cpu.sphere_noise(*plan, keys, out);
      return cpu.to_host(out);
    });
  }
}

TEST_CASE("a loop body's error reaches the caller of a cpu op", "[parallel][backend]") {
  // Under OpenMP this throw escaped a parallel region and ended the program.
  CpuBackend cpu;
  ScopedParallelWorkers many(kManyWorkers);
  const int64_t R = 30000, C = 32;
  Tensor a = cpu.empty({10, C}, DType::f32), b = cpu.empty({10, C}, DType::f32);
  cpu.fill(a, 1.f);
  cpu.fill(b, 2.f);
  std::vector<int32_t> ia(R, 3), ib(R, 4);
  ib[R - 5] = 10;  // one past the end, in the last range
  Tensor iat = cpu.from_host_i32(ia), ibt = cpu.from_host_i32(ib);
  Tensor y = cpu.empty({R, C}, DType::f32);
  cpu.fill(y, 0.f);
  CHECK_THROWS_AS(cpu.gather2_add_act(a, iat, b, ibt, y, Activation::none), std::out_of_range);
}

TEST_CASE("the graph build gives the same graph with 1 and 7 workers", "[parallel][graph]") {
  // 1 degree, mesh 4, 16 hops: big enough for every graph loop to split.
  std::vector<float> lat, lon;
  for (int i = 0; i < 181; ++i) lat.push_back(static_cast<float>(-90 + i));
  for (int j = 0; j < 360; ++j) lon.push_back(static_cast<float>(j));
  GraphBuildOptions options;
  options.mesh_size = 4;
  options.attention_k_hop = 16;
  auto build = [&](int workers) {
    ScopedParallelWorkers scope(workers);
    return build_denoiser_graph(lat, lon, options);
  };
  const DenoiserGraph a = build(1), b = build(kManyWorkers);
  auto same_floats = [](const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
  };
  auto same_edges = [&](const EdgeSet& x, const EdgeSet& y) {
    return x.senders == y.senders && x.receivers == y.receivers &&
           x.receiver_offsets == y.receiver_offsets &&
           same_floats(x.features.data, y.features.data);
  };
  CHECK(same_floats(a.mesh_lat, b.mesh_lat));
  CHECK(same_floats(a.mesh_lon, b.mesh_lon));
  CHECK(same_floats(a.grid_node_features.data, b.grid_node_features.data));
  CHECK(same_floats(a.mesh_node_features.data, b.mesh_node_features.data));
  CHECK(same_edges(a.grid2mesh, b.grid2mesh));
  CHECK(same_edges(a.mesh_edges, b.mesh_edges));
  CHECK(same_edges(a.mesh2grid, b.mesh2grid));
  CHECK(a.attention.offsets == b.attention.offsets);
  CHECK(a.attention.indices == b.attention.indices);
  CHECK(a.mesh2grid_ties == b.mesh2grid_ties);
  CHECK(a.mesh2grid_tie_nodes == b.mesh2grid_tie_nodes);
  CHECK(a.grid2mesh.size() > 0);
  CHECK(a.attention.nnz() > a.n_mesh);
}

TEST_CASE("no OpenMP and no raw thread loops outside core/parallel", "[parallel]") {
  namespace fs = std::filesystem;
  const fs::path root(GENCAST_SOURCE_DIR);
  // Spelled in pieces so that this file does not match itself.
  const std::vector<std::string> omp_uses{std::string("#pragma") + " omp",
                                          std::string("<omp") + ".h>",
                                          std::string("omp") + "_get_",
                                          std::string("omp") + "_set_"};
  const std::vector<std::string> openmp_links{std::string("find_package(Open") + "MP",
                                              std::string("Open") + "MP::"};
  // Threads that are not loops: the output writer, the forecast's setup
  // overlapped with the input read, one thread per ensemble worker (the
  // member scheduler), and each worker's step end (download, check, hand-off
  // to the writer) beside its next step. A new entry needs a reason of that kind.
  const std::set<std::string> may_start_threads{"lib/core/parallel.h",
                                                "lib/core/parallel.cpp",
                                                "lib/runtime/async_writer.h",
                                                "lib/runtime/async_writer.cpp",
                                                "lib/runtime/forecast_runner.cpp",
                                                "lib/runtime/member_scheduler.cpp",
                                                "lib/runtime/member_worker.cpp"};
  std::vector<fs::path> files{root / "CMakeLists.txt"};
  for (const char* dir : {"lib", "kernels", "app", "tests", "cmake"})
    for (const auto& entry : fs::recursive_directory_iterator(root / dir))
      if (entry.is_regular_file()) files.push_back(entry.path());

  std::string offenders;
  int scanned = 0;
  for (const fs::path& p : files) {
    const std::string ext = p.extension().string();
    const bool cmake = p.filename() == "CMakeLists.txt" || ext == ".cmake";
    const bool code = ext == ".h" || ext == ".cpp" || ext == ".cu" || ext == ".cuh";
    if (!cmake && !code) continue;
    std::ifstream in(p);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    const std::string rel = fs::relative(p, root).generic_string();
    ++scanned;
    if (cmake) {
      for (const std::string& link : openmp_links)
        if (s.find(link) != std::string::npos) offenders += rel + ": " + link + "\n";
      continue;
    }
    for (const std::string& use : omp_uses)
      if (s.find(use) != std::string::npos) offenders += rel + ": " + use + "\n";
    const bool threads = s.find("std::thread") != std::string::npos ||
                         s.find("std::jthread") != std::string::npos ||
                         s.find("std::async") != std::string::npos;
    if (threads && rel.rfind("tests/", 0) != 0 && may_start_threads.count(rel) == 0)
      offenders += rel + ": starts threads; a loop must use parallel_for (core/parallel.h)\n";
  }
  CHECK(scanned > 100);
  INFO("offenders:\n" << offenders);
  CHECK(offenders.empty());
}

}  // namespace gencast
