// Backend::copy_columns on the CPU reference backend: the scaled source lands
// in exactly its column range of every row, every other column keeps its
// value, and shape violations are std::invalid_argument. Exact comparisons:
// each written value is one float32 product, computed the same way here.
#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "backend/cpu_backend.h"

using namespace gencast;

namespace {

// Distinct values, so that a value written to the wrong place is caught.
ArrayF numbered(Shape shape, float base) {
  ArrayF a(std::move(shape));
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = base + 0.37f * static_cast<float>(i);
  return a;
}

}  // namespace

TEST_CASE("cpu copy_columns writes scale * src into its columns and nothing else",
          "[backend][copy_columns]") {
  CpuBackend cpu;
  const int64_t R = 5, C = 3, D = 8;
  const ArrayF src = numbered({R, C}, -2.f);
  const ArrayF before = numbered({R, D}, 100.f);
  const float scale = 0.3f;
  for (int64_t col0 : {int64_t{0}, int64_t{3}, D - C}) {
    INFO("col0 " << col0);
    Tensor s = cpu.from_host(src, DType::f32), d = cpu.from_host(before, DType::f32);
    cpu.copy_columns(s, scale, d, col0);
    const ArrayF got = cpu.to_host(d);
    int64_t wrong = 0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < D; ++c) {
        const auto i = static_cast<size_t>(r * D + c);
        const float expect = c >= col0 && c < col0 + C
                                 ? scale * src.data[static_cast<size_t>(r * C + c - col0)]
                                 : before.data[i];
        wrong += got.data[i] != expect;
      }
    CHECK(wrong == 0);
  }
}

TEST_CASE("cpu copy_columns into a row range of a wider tensor leaves the other rows alone",
          "[backend][copy_columns]") {
  CpuBackend cpu;
  const ArrayF src = numbered({2, 4}, 1.f);
  const ArrayF before = numbered({6, 9}, -50.f);
  Tensor s = cpu.from_host(src, DType::f32), all = cpu.from_host(before, DType::f32);
  Tensor view = all.rows(3, 2);
  cpu.copy_columns(s, -1.5f, view, 5);
  const ArrayF got = cpu.to_host(all);
  int64_t wrong = 0;
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t c = 0; c < 9; ++c) {
      const auto i = static_cast<size_t>(r * 9 + c);
      const bool written = r >= 3 && r < 5 && c >= 5;
      const float expect =
          written ? -1.5f * src.data[static_cast<size_t>((r - 3) * 4 + c - 5)] : before.data[i];
      wrong += got.data[i] != expect;
    }
  CHECK(wrong == 0);
}

TEST_CASE("cpu copy_columns rejects shape violations", "[backend][copy_columns]") {
  CpuBackend cpu;
  Tensor src = cpu.from_host(numbered({4, 3}, 0.f), DType::f32);
  Tensor dst = cpu.from_host(numbered({4, 8}, 0.f), DType::f32);
  Tensor short_dst = cpu.from_host(numbered({3, 8}, 0.f), DType::f32);
  Tensor ints = cpu.empty({4, 8}, DType::i32);
  CHECK_THROWS_AS(cpu.copy_columns(src, 1.f, short_dst, 0), std::invalid_argument);  // rows
  CHECK_THROWS_AS(cpu.copy_columns(src, 1.f, dst, 6), std::invalid_argument);  // past the end
  CHECK_THROWS_AS(cpu.copy_columns(src, 1.f, dst, -1), std::invalid_argument);
  CHECK_THROWS_AS(cpu.copy_columns(src, 1.f, ints, 0), std::invalid_argument);  // not a float
  Tensor same = dst.rows(0, 4);
  CHECK_THROWS_AS(cpu.copy_columns(dst.reshaped({8, 4}).rows(0, 4), 1.f, same, 0),
                  std::invalid_argument);  // overlapping
  // The last valid range works.
  CHECK_NOTHROW(cpu.copy_columns(src, 1.f, dst, 5));
}
