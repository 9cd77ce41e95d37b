// JsonWriter: commas, nesting, escaping, numbers (doubles read back exactly,
// non-finite as null, integer extremes) and refusal of misuse.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/json.h"

using namespace gencast;

namespace {

std::string one_string(const std::string& s) { return JsonWriter().value(s).str(); }

std::string one_double(double v) { return JsonWriter().value(v).str(); }

}  // namespace

TEST_CASE("json: nesting and commas", "[json]") {
  JsonWriter w;
  w.begin_object()
      .key("a").value(1)
      .key("b").begin_array().value(true).value(false).null().begin_object().end_object().end_array()
      .key("c").begin_object().key("d").begin_array().end_array().key("e").value("x").end_object()
      .key("f").begin_array().begin_array().value(1).end_array().begin_array().value(2).end_array()
      .end_array()
      .end_object();
  CHECK(w.str() == R"({"a":1,"b":[true,false,null,{}],"c":{"d":[],"e":"x"},"f":[[1],[2]]})");
  CHECK(JsonWriter().begin_array().end_array().str() == "[]");
  CHECK(JsonWriter().begin_object().end_object().str() == "{}");
}

TEST_CASE("json: string escaping", "[json]") {
  CHECK(one_string("plain") == R"("plain")");
  CHECK(one_string("say \"hi\"") == R"("say \"hi\"")");
  CHECK(one_string("C:\\dir") == R"("C:\\dir")");
  CHECK(one_string("a\nb\tc\rd") == R"("a\nb\tc\rd")");
  CHECK(one_string(std::string("\x01", 1)) == R"("\u0001")");
  CHECK(one_string(std::string("\x1f", 1)) == R"("\u001f")");
  CHECK(one_string(std::string("a\0b", 3)) == R"("a\u0000b")");
  CHECK(one_string("caf\xc3\xa9 \xe2\x84\x83") == "\"caf\xc3\xa9 \xe2\x84\x83\"");  // UTF-8 as is
  CHECK(one_string("/") == R"("/")");
  // Keys are escaped the same way.
  CHECK(JsonWriter().begin_object().key("k\"\n").value(0).end_object().str() == R"({"k\"\n":0})");
}

TEST_CASE("json: a string literal is a string, not a bool", "[json]") {
  CHECK(JsonWriter().value("text").str() == R"("text")");
  CHECK(JsonWriter().value(false).str() == "false");
}

TEST_CASE("json: non-finite doubles are null", "[json]") {
  CHECK(one_double(std::numeric_limits<double>::infinity()) == "null");
  CHECK(one_double(-std::numeric_limits<double>::infinity()) == "null");
  CHECK(one_double(std::numeric_limits<double>::quiet_NaN()) == "null");
  JsonWriter w;
  w.begin_array().value(1.5).value(std::numeric_limits<double>::quiet_NaN()).value(2.5).end_array();
  CHECK(w.str() == "[1.5,null,2.5]");
}

TEST_CASE("json: doubles read back exactly and stay floats", "[json]") {
  const double values[] = {0.0,
                           -0.0,
                           1.0,
                           -2.0,
                           0.1,
                           1.0 / 3.0,
                           12.345678901234567,
                           1e-9,
                           6.02214076e23,
                           1e300,
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::min(),
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::epsilon()};
  for (const double v : values) {
    const std::string text = one_double(v);
    INFO(text);
    CHECK(text.find_first_of(".e") != std::string::npos);
    char* end = nullptr;
    const double back = std::strtod(text.c_str(), &end);
    CHECK(end == text.c_str() + text.size());
    CHECK(back == v);
    CHECK(std::signbit(back) == std::signbit(v));
  }
  CHECK(one_double(80.0) == "80.0");
  CHECK(one_double(0.1) == "0.1");
  CHECK(one_double(1e-9) == "1e-09");
}

TEST_CASE("json: integer extremes", "[json]") {
  CHECK(JsonWriter().value(std::numeric_limits<int64_t>::max()).str() == "9223372036854775807");
  CHECK(JsonWriter().value(std::numeric_limits<int64_t>::min()).str() == "-9223372036854775808");
  CHECK(JsonWriter().value(std::numeric_limits<uint64_t>::max()).str() == "18446744073709551615");
  CHECK(JsonWriter().value(0).str() == "0");
  CHECK(JsonWriter().value(-7).str() == "-7");
  CHECK(JsonWriter().value(42u).str() == "42");
  CHECK(JsonWriter().value(123LL).str() == "123");
}

TEST_CASE("json: misuse is a logic error", "[json]") {
  CHECK_THROWS_AS(JsonWriter().begin_object().value(1), std::logic_error);
  CHECK_THROWS_AS(JsonWriter().begin_array().key("a"), std::logic_error);
  CHECK_THROWS_AS(JsonWriter().key("a"), std::logic_error);
  CHECK_THROWS_AS(JsonWriter().begin_object().end_array(), std::logic_error);
  CHECK_THROWS_AS(JsonWriter().end_object(), std::logic_error);
  CHECK_THROWS_AS(JsonWriter().begin_object().key("a").end_object(), std::logic_error);
  CHECK_THROWS_AS(JsonWriter().begin_object().key("a").key("b"), std::logic_error);
  CHECK_THROWS_AS(JsonWriter().value(1).value(2), std::logic_error);
}
