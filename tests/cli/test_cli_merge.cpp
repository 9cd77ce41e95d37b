// `gencast-run merge` end to end on the tiny model (CPU): parts of one run
// made by separate --member-ids jobs merge into the one-job file bit for bit;
// parts of other runs (seed, steps), overlapping members and missing files
// are refused with exit 2 naming what differs, and no output is left.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "cli/cli_runner.h"
#include "cli/tiny_forecast.h"
#include "io/forecast_reader.h"
#include "test_temp_dir.h"

using namespace gencast;
using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

void forecast(const std::string& flags, const std::string& output) {
  const CliResult r = run_gencast("forecast " + flags + " " + tiny_flags(output));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("merge of --member-ids parts equals the one-job run, every variable bit for bit",
          "[cli][merge]") {
  TempDir dir;
  const std::string full = dir.file("full.nc"), p1 = dir.file("p1.nc"), p2 = dir.file("p2.nc"),
                    merged = dir.file("merged.nc");
  forecast("--steps 2 --members 4 --seed 5", full);
  forecast("--steps 2 --member-ids 0,2 --seed 5", p1);
  forecast("--steps 2 --member-ids 3,1 --seed 5", p2);
  const CliResult r = run_gencast("merge " + shell_quote(p2) + " " + shell_quote(p1) + " -o " +
                                  shell_quote(merged));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("merged 2 part(s)") != std::string::npos);
  require_same_forecast(full, merged);
  const ForecastFileInfo info = ForecastReader(merged).info();
  CHECK(info.spec.run_fingerprint == ForecastReader(full).info().spec.run_fingerprint);
  CHECK(info.attribute("history").find("merge") != std::string::npos);
  CHECK(dir.entries() == std::vector<std::string>{"full.nc", "merged.nc", "p1.nc", "p2.nc"});
  // Merging again needs --overwrite.
  const CliResult again = run_gencast("merge " + shell_quote(p1) + " " + shell_quote(p2) + " -o " +
                                      shell_quote(merged));
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("--overwrite") != std::string::npos);
}

TEST_CASE("merge refuses parts of other runs and overlapping members: exit 2, key named",
          "[cli][merge]") {
  TempDir dir;
  const std::string base = dir.file("base.nc"), out = dir.file("out.nc");
  forecast("--steps 1 --member-ids 0,1 --seed 5", base);
  struct Case {
    const char* name;
    std::string flags;
    std::string expect;
  };
  const Case cases[] = {
      {"another seed", "--steps 1 --member-ids 2 --seed 6", "seed: 5 vs 6"},
      {"more steps", "--steps 2 --member-ids 2 --seed 5", "steps: 1 vs 2"},
      {"a member twice", "--steps 1 --member-ids 1,2 --seed 5", "member 1"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      const std::string other = dir.file("other.nc");
      forecast(c.flags, other);
      const CliResult r =
          run_gencast("merge " + shell_quote(base) + " " + shell_quote(other) + " -o " + shell_quote(out));
      INFO(r.all());
      CHECK(r.exit_code == 2);
      CHECK(r.err.find(c.expect) != std::string::npos);
      CHECK(r.err.find("base.nc") != std::string::npos);
      CHECK(r.err.find("other.nc") != std::string::npos);
      CHECK(!fs::exists(out));
    }
  }
  SECTION("a missing part, a non-forecast file, no output flag") {
    CliResult r = run_gencast("merge " + shell_quote(base) + " " + shell_quote(dir.file("none.nc")) +
                              " -o " + shell_quote(out));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("none.nc") != std::string::npos);
    r = run_gencast("merge " + shell_quote(base) + " " + shell_quote(tiny_fixture("source_tiny.nc")) +
                    " -o " + shell_quote(out));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("source_tiny.nc") != std::string::npos);
    CHECK(run_gencast("merge " + shell_quote(base)).exit_code == 2);
    r = run_gencast("merge " + shell_quote(base) + " -o " + shell_quote(out) + " --format grib");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--format") != std::string::npos);
    CHECK(!fs::exists(out));
  }
}

TEST_CASE("merge warns about parts computed with different batch sizes", "[cli][merge][batch]") {
  TempDir dir;
  const std::string p1 = dir.file("p1.nc"), p2 = dir.file("p2.nc"), out = dir.file("out.nc"),
                    full = dir.file("full.nc");
  forecast("--steps 1 --member-ids 0,1 --batch 2 --seed 3", p1);
  forecast("--steps 1 --member-ids 2 --batch 1 --seed 3", p2);
  forecast("--steps 1 --members 3 --batch 1 --seed 3", full);
  const CliResult r = run_gencast("merge " + shell_quote(p1) + " " + shell_quote(p2) + " -o " +
                                  shell_quote(out) + " --compression 0");
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("batch: 2 vs 1") != std::string::npos);
  CHECK(ForecastReader(out).info().spec.compression == 0);
  require_same_forecast(full, out);  // the CPU reference is bitwise across batch sizes
}
