// The .npz/.npy reader and writer on archives numpy wrote (stored and
// deflated), npy format versions 1-3, every accepted dtype, and every kind of
// malformed input we refuse (each must be an InputError naming file, member,
// expected and found).
//
// Test archives live in tests/data/npz and were made by
// tests/data/npz/make_npz_fixtures.py (numpy 1.24). Each dtype member "<x>"
// has a float32 twin "<x>_as_f32" converted by numpy, so conversions are
// checked against numpy rather than against constants written here.
#include <catch2/catch.hpp>
#include "test_temp_dir.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>

#include "core/error.h"
#include "io/npz.h"

using namespace gencast;
using gencast::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string npz_path(const std::string& name) {
  return std::string(GENCAST_TEST_DATA_DIR) + "/npz/" + name;
}

// Runs `fn`, requires an InputError whose message holds every fragment.
template <class F>
void require_input_error(F&& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    const std::string what = e.what();
    INFO(what);
    REQUIRE(!e.problems().empty());
    CHECK(!e.problems()[0].expected.empty());
    CHECK(!e.problems()[0].found.empty());
    for (const auto& f : fragments) CHECK(what.find(f) != std::string::npos);
  }
}

// Bitwise-equal float arrays (so inf and -0.0 count; NaN would fail).
void require_same(const ArrayF& a, const ArrayF& b) {
  REQUIRE(a.shape == b.shape);
  for (size_t i = 0; i < a.data.size(); ++i) {
    INFO("element " << i << ": " << a.data[i] << " vs " << b.data[i]);
    REQUIRE(!std::isnan(a.data[i]));
    REQUIRE(std::memcmp(&a.data[i], &b.data[i], sizeof(float)) == 0);
  }
}


}  // namespace

TEST_CASE("npz: every accepted dtype converts like numpy, stored and deflated", "[npz]") {
  for (const char* file : {"dtypes.npz", "dtypes_deflated.npz"}) {
    SECTION(file) {
      NpzReader r(npz_path(file));
      for (const char* name : {"f64", "f16", "bf16", "i32"}) {
        INFO(name);
        require_same(r.read_f32(name), r.read_f32(std::string(name) + "_as_f32"));
      }
      CHECK(r.header("bf16").dtype == npy::DType::bf16);
      CHECK(r.header("f16").dtype == npy::DType::f16);
      CHECK(r.header("f32").shape == Shape{2, 3});

      // float32 is read as is; it holds the first 6 float64 values.
      const ArrayF f32 = r.read_f32("f32");
      const Array<double> f64 = r.read_f64("f64");
      for (size_t i = 0; i < 6; ++i) CHECK(static_cast<double>(f32.data[i]) == f64.data[i]);

      // Integers keep full width (values as written by the generator).
      CHECK(r.read_i64("i64").data == std::vector<int64_t>{1, -2, int64_t{1} << 40, -(int64_t{1} << 40)});
      CHECK(r.read_i32("i32").data ==
            std::vector<int32_t>{1, -2, INT32_MAX, INT32_MIN});
      CHECK(r.read_i64("bool").data == std::vector<int64_t>{1, 0, 1});

      CHECK(std::isinf(r.read_scalar_f64("scalar_f64")));
      CHECK(r.read_scalar_i64("scalar_i64") == 42);
      CHECK(r.read_scalar_bool("scalar_bool"));
      CHECK(r.read_string("text_ascii") == "triblockdiag_mha");
      // "Zürich ☀ 𝜋" in UTF-8: 2-, 3- and 4-byte sequences.
      CHECK(r.read_string("text_unicode") == "Z\xc3\xbcrich \xe2\x98\x80 \xf0\x9d\x9c\x8b");
      CHECK(r.read_string("text_empty").empty());
    }
  }
}

TEST_CASE("npz: a deflated archive reads exactly like the stored one", "[npz]") {
  NpzReader stored(npz_path("dtypes.npz"));
  NpzReader deflated(npz_path("dtypes_deflated.npz"));
  REQUIRE(stored.keys().size() == deflated.keys().size());
  for (const auto& key : stored.keys()) {
    INFO(key);
    REQUIRE(deflated.contains(key));
    const npy::Header h = stored.header(key);
    CHECK(deflated.header(key).shape == h.shape);
    CHECK(deflated.header(key).dtype == h.dtype);
    if (h.dtype == npy::DType::unicode) {
      CHECK(deflated.read_string(key) == stored.read_string(key));
    } else {
      require_same(deflated.read_f32(key), stored.read_f32(key));
    }
  }
}

TEST_CASE("npz: npy format versions 1, 2 and 3", "[npz]") {
  NpzReader r(npz_path("versions.npz"));
  const ArrayF expected = r.read_f32("expected");
  for (const char* v : {"v1", "v2", "v3"}) {
    INFO(v);
    require_same(r.read_f32(v), expected);
  }
  CHECK(r.read_string("v2_scalar_text") == "GenCast");
}

TEST_CASE("npz: wrongly typed reads are input errors", "[npz]") {
  NpzReader r(npz_path("dtypes.npz"));
  require_input_error([&] { r.read_string("f32"); }, {"dtypes.npz", "f32", "unicode"});
  require_input_error([&] { r.read_scalar_i64("scalar_f64"); }, {"scalar_f64", "integer", "float64"});
  require_input_error([&] { r.read_scalar_bool("scalar_i64"); }, {"scalar_i64", "bool", "int64"});
  require_input_error([&] { r.read_scalar_f64("f32"); }, {"f32", "scalar", "(2, 3)"});
  require_input_error([&] { r.read_f32("text_ascii"); }, {"text_ascii", "numeric"});
  require_input_error([&] { r.read_f32("no_such_member"); }, {"no_such_member", "missing"});
}

TEST_CASE("npz: malformed members are refused with file, member, expected and found", "[npz]") {
  NpzReader r(npz_path("bad_members.npz"));
  CHECK(r.read_f32("good").data == std::vector<float>{1, 2, 3});
  const std::string file = "bad_members.npz";
  require_input_error([&] { r.read_f32("complex64"); }, {file, "[complex64]", "npy descr", "'<c8'"});
  require_input_error([&] { r.read_f32("big_endian"); }, {file, "[big_endian]", "big-endian '>f4'"});
  require_input_error([&] { r.read_f32("object"); }, {file, "[object]", "object array"});
  require_input_error([&] { r.header("corrupt_header"); }, {file, "[corrupt_header]", "'descr'"});
  require_input_error([&] { r.read_f32("bad_magic"); }, {file, "[bad_magic]", "npy magic"});
  require_input_error([&] { r.read_f32("bad_version"); }, {file, "[bad_version]", "npy version", "7"});
  require_input_error([&] { r.read_f32("truncated_data"); },
                      {file, "[truncated_data]", "npy data", "(100,)"});
  require_input_error([&] { r.read_f32("fortran_order"); }, {file, "[fortran_order]", "C order"});
  require_input_error([&] { r.read_f32("bad_shape"); }, {file, "[bad_shape]", "npy shape", "x"});
}

TEST_CASE("npz: unreadable archives are input errors", "[npz]") {
  require_input_error([] { NpzReader r(npz_path("truncated.npz")); },
                      {"truncated.npz", "damaged zip archive"});
  require_input_error([] { NpzReader r(npz_path("not_a_zip.npz")); },
                      {"not_a_zip.npz", "not a zip archive"});
  require_input_error([] { NpzReader r(npz_path("no_such_file.npz")); },
                      {"no_such_file.npz", "no such file"});
}

TEST_CASE("npz: the writer round-trips arrays and scalars and leaves no partial file", "[npz]") {
  TempDir dir;
  const std::string path = (dir.path() / "out.npz").string();
  ArrayF f({2, 3});
  for (size_t i = 0; i < f.data.size(); ++i) f.data[i] = 0.25f * static_cast<float>(i) - 1.0f;
  f.data[5] = INFINITY;
  Array<int32_t> idx({4});
  idx.data = {0, -1, INT32_MAX, INT32_MIN};
  const std::string unicode = "Z\xc3\xbcrich \xe2\x98\x80 \xf0\x9d\x9c\x8b";
  {
    NpzWriter w(path);
    w.add_f32("a:b/c", f);
    w.add_i32("idx", idx);
    w.add_string("text", unicode);
    w.add_string("empty", "");
    w.add_scalar_f64("x", -INFINITY);
    w.add_scalar_i64("n", int64_t{1} << 40);
    w.add_scalar_bool("flag", false);
    w.close();
  }
  CHECK(!fs::exists(path + ".partial"));
  NpzReader r(path);
  require_same(r.read_f32("a:b/c"), f);
  CHECK(r.read_i32("idx").data == idx.data);
  CHECK(r.read_string("text") == unicode);
  CHECK(r.read_string("empty").empty());
  CHECK(r.read_scalar_f64("x") == -INFINITY);
  CHECK(r.read_scalar_i64("n") == int64_t{1} << 40);
  CHECK(!r.read_scalar_bool("flag"));

  // A writer destroyed before close() (e.g. by an exception) leaves nothing.
  const std::string abandoned = (dir.path() / "abandoned.npz").string();
  {
    NpzWriter w(abandoned);
    w.add_f32("a", f);
  }
  CHECK(!fs::exists(abandoned));
  CHECK(!fs::exists(abandoned + ".partial"));
}
