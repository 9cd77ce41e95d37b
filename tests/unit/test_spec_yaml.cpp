// to_yaml: the resolved spec written as YAML reads back as the same RunSpec,
// whatever the values (awkward paths, infinities, explicit member subsets).
#include <catch2/catch.hpp>

#include <limits>

#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"
#include "test_spec_util.h"

using namespace gencast;
using namespace spec_test;

namespace {

// Writes to_yaml(spec) into a different folder and loads it again: relative
// paths would move with the folder, so equality also shows that every path
// was written absolute.
RunSpec round_trip(const RunSpec& spec) {
  TempDir dir;
  const auto path = dir.write("elsewhere/resolved.yaml", to_yaml(spec));
  return load_run_spec(path);
}

}  // namespace

TEST_CASE("to_yaml round-trips a spec with every field set", "[spec]") {
  const RunSpec spec = load_run_spec(fs::path(GENCAST_TEST_DATA_DIR) / "specs" / "full.yaml");
  REQUIRE(spec.sampler.churn_max_noise_level == std::numeric_limits<double>::infinity());
  REQUIRE(spec.forecast.seed == 18446744073709551615ULL);
  REQUIRE(spec.forecast.steps == 20);  // lead_time 10d
  REQUIRE(spec.output.variables == std::vector<std::string>{"2m_temperature", "null", "123"});
  REQUIRE(spec.output.keep_bits == 10);
  REQUIRE(spec.output.resume);
  REQUIRE(fs::path(spec.model.checkpoint).filename() == "GenCast 1p0deg <2019.npz");
  REQUIRE_FALSE(spec.runtime.probe_inputs);
  const RunSpec back = round_trip(spec);
  INFO(to_yaml(spec));
  CHECK(back.model == spec.model);
  CHECK(back.input == spec.input);
  CHECK(back.forecast == spec.forecast);
  CHECK(back.sampler == spec.sampler);
  CHECK(back.output == spec.output);
  CHECK(back.runtime == spec.runtime);
  CHECK(back == spec);
}

TEST_CASE("to_yaml round-trips defaults, and writes what a reader needs", "[spec]") {
  TempDir dir;
  const RunSpec spec = load_run_spec(dir.write("spec.yaml", minimal_spec()));
  const std::string yaml = to_yaml(spec);
  INFO(yaml);
  CHECK(round_trip(spec) == spec);
  // Every path is absolute; member_ids is left out when it is just 0..N-1.
  CHECK(contains(yaml, (dir.path() / "ck.npz").string()));
  CHECK_FALSE(contains(yaml, "member_ids"));
  CHECK(spec.output.keep_bits == 0);  // lossless unless asked
  CHECK_FALSE(contains(yaml, "keep_bits"));
  CHECK(contains(yaml, "steps: 30"));
  CHECK(contains(yaml, "lead time 360 h"));
}

TEST_CASE("the round trip preserves a spec that overrides built", "[spec]") {
  TempDir dir;
  SpecOverrides o;
  o.member_ids = std::vector<int64_t>{1};
  o.steps = 1;
  o.init_time = "2019-03-29T12:00";
  const RunSpec spec = resolve_run_spec(dir.write("spec.yaml", minimal_spec()).string(), o);
  CHECK(round_trip(spec) == spec);
}

TEST_CASE("RunSpec equality ignores the source but nothing else", "[spec]") {
  RunSpec a, b;
  a.source = "x.yaml";
  b.source = "y.yaml";
  CHECK(a == b);
  b.runtime.edge_cache = EdgeCache::on;
  CHECK_FALSE(a == b);
}
