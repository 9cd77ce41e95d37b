// Error messages name file, field, expected and found (the exit-code contract).
#include <catch2/catch.hpp>

#include "core/error.h"

using namespace gencast;

TEST_CASE("problems render file, field, expected and found", "[errors]") {
  Problem p{"spec.yaml", "forecast.steps", "an integer >= 1", "-3", "use 30 for 15 days"};
  CHECK(p.to_string() ==
        "spec.yaml: forecast.steps: expected an integer >= 1, found -3\n  hint: use 30 for 15 days");
}

TEST_CASE("a problem list reports every problem at once", "[errors]") {
  ProblemList list;
  list.collect([] { fail_input("a.nc", "temperature", "13 levels", "12"); });
  list.add("b.nc", "lat", "ascending or descending", "unordered");
  REQUIRE(list.size() == 2);
  try {
    list.throw_if_any();
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(e.problems().size() == 2);
    CHECK(std::string(e.what()).find("a.nc: temperature") != std::string::npos);
    CHECK(std::string(e.what()).find("b.nc: lat") != std::string::npos);
  }
}
