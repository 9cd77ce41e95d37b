// The shipped configs/*.yaml, the built-in demo spec and the file-system and
// sampler checks built on a RunSpec.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "spec/spec_loader.h"
#include "test_spec_util.h"

using namespace gencast;
using namespace spec_test;

namespace {

const fs::path kSource = GENCAST_SOURCE_DIR;
const fs::path kConfigs = kSource / "configs";
const fs::path kTiny = kSource / "tests" / "data" / "gencast_tiny";

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("every shipped config parses", "[spec]") {
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path());
    CHECK_NOTHROW(load_run_spec(entry.path()));
    ++count;
  }
  CHECK(count >= 5);
}

TEST_CASE("the shipped configs say what the brief asks of them", "[spec]") {
  const RunSpec one = load_run_spec(kConfigs / "1p0deg.yaml");
  CHECK(one.model.checkpoint == (kConfigs / "GenCast 1p0deg <2019.npz").string());
  CHECK(one.model.stats_dir == (kConfigs / "stats").string());
  CHECK(one.runtime.device == "auto");
  CHECK(one.forecast.steps == 30);
  CHECK(one.forecast.members == 8);

  const RunSpec quarter = load_run_spec(kConfigs / "0p25deg.yaml");
  CHECK(fs::path(quarter.model.checkpoint).filename() == "GenCast 0p25deg <2019.npz");
  CHECK(quarter.model.precision == Precision::bf16);
  CHECK(quarter.forecast.steps == 30);

  const RunSpec mini = load_run_spec(kConfigs / "1p0deg_mini.yaml");
  CHECK(fs::path(mini.model.checkpoint).filename() == "GenCast 1p0deg Mini <2019.npz");

  const RunSpec tiny = load_run_spec(kConfigs / "tiny.yaml");
  CHECK(tiny.model.checkpoint == (kTiny / "tiny_checkpoint.npz").string());
  CHECK(tiny.runtime.device == "cpu");
  REQUIRE(tiny.input.init_time.has_value());
  CHECK(format_init_time(*tiny.input.init_time) == "2019-03-29T12:00:00");
}

TEST_CASE("the fixture configs point at files that exist", "[spec]") {
  for (const char* name : {"tiny.yaml", "demo.yaml"}) {
    INFO(name);
    ProblemList problems;
    check_spec_paths(load_run_spec(kConfigs / name), problems);
    CHECK(problems.empty());
  }
}

TEST_CASE("check_spec_paths names every missing file", "[spec]") {
  TempDir dir;
  RunSpec spec;
  spec.model.checkpoint = (dir.path() / "missing.npz").string();
  spec.model.stats_dir = dir.path().string();  // exists, but holds no stats files
  spec.input.path = dir.path().string();       // a folder, not a file
  spec.output.path = (dir.path() / "no_such_dir" / "out.nc").string();
  ProblemList problems;
  check_spec_paths(spec, problems);
  // checkpoint + input + 4 stats files + output folder.
  CHECK(problems.size() == 7);
  CHECK(find_problem(problems.problems(), "model.checkpoint") != nullptr);
  CHECK(find_problem(problems.problems(), "output.path") != nullptr);
  CHECK(problems.problems()[0].file == spec.model.checkpoint);
}

TEST_CASE("the built-in demo spec is configs/demo.yaml, byte for byte", "[spec]") {
  std::ifstream in(kConfigs / "demo.yaml", std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == builtin_demo_spec_yaml());
}

TEST_CASE("without a spec file the built-in demo runs the tiny model", "[spec]") {
  ScopedEnv env("GENCAST_DEMO_DIR", kSource.string());
  const RunSpec spec = resolve_run_spec(std::nullopt, SpecOverrides{});
  CHECK(spec.model.checkpoint == (kTiny / "tiny_checkpoint.npz").string());
  CHECK(spec.model.stats_dir == kTiny.string());
  CHECK(spec.input.path == (kTiny / "source_tiny.nc").string());
  // The demo output goes to the current directory, not into the source tree.
  CHECK(spec.output.path == (fs::current_path() / "gencast-demo-forecast.nc").string());
  CHECK(spec.forecast.steps == 2);
  CHECK(spec.forecast.members == 2);
  CHECK(spec.runtime.device == "cpu");
  CHECK(spec.source == "built-in demo spec");

  SECTION("overrides apply to the demo too") {
    SpecOverrides o;
    o.steps = 1;
    CHECK(resolve_run_spec(std::nullopt, o).forecast.steps == 1);
  }
}

TEST_CASE("GENCAST_DEMO_DIR relocates the demo's data", "[spec]") {
  ScopedEnv env("GENCAST_DEMO_DIR", "/opt/gencast");
  const RunSpec spec = resolve_run_spec(std::nullopt, SpecOverrides{});
  CHECK(spec.model.checkpoint == "/opt/gencast/tests/data/gencast_tiny/tiny_checkpoint.npz");
}

TEST_CASE("sampler overrides merge into the checkpoint's sampler config", "[spec]") {
  SamplerConfig checkpoint;  // the defaults of the official checkpoints
  checkpoint.num_noise_levels = 5;
  RunSpec spec;
  spec.source = "spec.yaml";
  CHECK(merge_sampler_config(checkpoint, spec).num_noise_levels == 5);
  spec.sampler.num_noise_levels = 20;
  spec.sampler.churn_max_noise_level = 10.0;
  const SamplerConfig merged = merge_sampler_config(checkpoint, spec);
  CHECK(merged.num_noise_levels == 20);
  CHECK(merged.churn_max_noise_level == 10.0);
  CHECK(merged.max_noise_level == checkpoint.max_noise_level);

  // min above the checkpoint's max: only detectable once merged.
  spec.sampler.min_noise_level = 100.0;
  const auto problems = problems_of([&] { merge_sampler_config(checkpoint, spec); });
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].file == "spec.yaml");
  CHECK(contains(problems[0].field, "sampler.min_noise_level"));
  CHECK(contains(problems[0].found, "(checkpoint)"));
}
