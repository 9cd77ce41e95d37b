// Command-line overrides: they win over the file, resolve relative paths
// against the current directory, are validated like the file, and their
// problems name the flag.
#include <catch2/catch.hpp>

#include "spec/spec_loader.h"
#include "test_spec_util.h"

using namespace gencast;
using namespace spec_test;

namespace {

// File text -> draft (as if read from <dir>/spec.yaml) -> overrides (cwd
// given explicitly, so the test does not depend on the process cwd).
RunSpec resolve_with(const std::string& text, const SpecOverrides& o, const fs::path& file_dir,
                     const fs::path& cwd) {
  SpecDraft draft = parse_spec_text(SpecText{(file_dir / "spec.yaml").string(), text, file_dir,
                                             file_dir});
  apply_overrides(draft, o, cwd);
  return finalize_spec(std::move(draft));
}

const std::string kFile =
    "model:\n  checkpoint: ck.npz\n  stats_dir: stats\n  precision: tf32\n"
    "input:\n  path: in.nc\n  init_time: 2019-03-29T00:00\n"
    "forecast:\n  steps: 30\n  members: 8\n  member_ids: [4, 5]\n  seed: 1\n"
    "output:\n  path: out.nc\n  layout: predictions\n  variables: [temperature]\n"
    "  compression: 1\n"
    "runtime:\n  device: cuda:0\n";

}  // namespace

TEST_CASE("without overrides the file's values stand", "[spec]") {
  const RunSpec spec = resolve_with(kFile, SpecOverrides{}, "/data/cfg", "/home/user");
  CHECK(spec.model.checkpoint == "/data/cfg/ck.npz");
  CHECK(spec.forecast.steps == 30);
  CHECK(spec.forecast.member_ids == std::vector<int64_t>{4, 5});
  CHECK(spec.forecast.members == 2);  // explicit ids override members: 8
  CHECK(spec.model.precision == Precision::tf32);
}

TEST_CASE("overrides win over the file", "[spec]") {
  SpecOverrides o;
  o.checkpoint = "other.npz";               // relative: against the cwd
  o.stats_dir = "/abs/stats";               // absolute: as given
  o.input = std::vector<std::string>{"../inputs/era5.nc"};
  o.output = "runs/out.nc";
  o.init_time = "2019-03-30T12:00";
  o.lead_time = "5d";
  o.members = 3;
  o.seed = 18446744073709551615ULL;
  o.device = "cuda";
  o.precision = "bf16";
  o.attention = "dense";
  o.layout = "wb2";
  o.format = "netcdf";
  o.edge_cache = "off";
  o.variables = std::vector<std::string>{"2m_temperature", "geopotential"};
  o.compression = 0;
  o.keep_bits = 12;
  CHECK_FALSE(o.empty());
  const RunSpec spec = resolve_with(kFile, o, "/data/cfg", "/home/user/work");
  CHECK(spec.model.checkpoint == "/home/user/work/other.npz");
  CHECK(spec.model.stats_dir == "/abs/stats");
  CHECK(spec.input.path == "/home/user/inputs/era5.nc");
  CHECK(spec.output.path == "/home/user/work/runs/out.nc");
  REQUIRE(spec.input.init_time.has_value());
  CHECK(format_init_time(*spec.input.init_time) == "2019-03-30T12:00:00");
  CHECK(spec.forecast.steps == 10);  // 5 days of 12 h steps
  // --members replaces the file's members and member_ids together.
  CHECK(spec.forecast.members == 3);
  CHECK(spec.forecast.member_ids == std::vector<int64_t>{0, 1, 2});
  CHECK(spec.forecast.seed == 18446744073709551615ULL);
  CHECK(spec.runtime.device == "cuda:0");
  CHECK(spec.model.precision == Precision::bf16);
  CHECK(spec.model.attention == AttentionMode::dense);
  CHECK(spec.output.layout == OutputLayout::wb2);
  CHECK(spec.output.ensemble_dim == "number");  // the wb2 default, resolved after overrides
  CHECK(spec.output.variables == std::vector<std::string>{"2m_temperature", "geopotential"});
  CHECK(spec.output.compression == 0);
  CHECK(spec.output.keep_bits == 12);
  CHECK(spec.output.format == OutputFormat::netcdf);
  CHECK(spec.runtime.edge_cache == EdgeCache::off);
}

TEST_CASE("override --member-ids wins over --members and the file", "[spec]") {
  SpecOverrides o;
  o.members = 50;
  o.member_ids = std::vector<int64_t>{7, 3};
  const RunSpec spec = resolve_with(kFile, o, "/d", "/c");
  CHECK(spec.forecast.member_ids == std::vector<int64_t>{7, 3});
  CHECK(spec.forecast.members == 2);
}

TEST_CASE("override --steps replaces the file's lead_time", "[spec]") {
  std::string text = kFile;
  text.replace(text.find("steps: 30"), 9, "lead_time: 15d");
  SpecOverrides o;
  o.steps = 4;
  CHECK(resolve_with(text, o, "/d", "/c").forecast.steps == 4);
  CHECK(resolve_with(text, SpecOverrides{}, "/d", "/c").forecast.steps == 30);
}

TEST_CASE("override --init-time \"\" returns to the latest time in the file", "[spec]") {
  SpecOverrides o;
  o.init_time = "";
  CHECK_FALSE(resolve_with(kFile, o, "/d", "/c").input.init_time.has_value());
}

TEST_CASE("overrides supply required keys the file lacks", "[spec]") {
  SpecOverrides o;
  o.checkpoint = "ck.npz";
  o.stats_dir = "stats";
  o.input = std::vector<std::string>{"in.nc"};
  o.output = "out.nc";
  o.device = "cpu";
  const RunSpec spec = resolve_with("forecast:\n  steps: 2\n", o, "/d", "/cwd");
  CHECK(spec.model.checkpoint == "/cwd/ck.npz");
  CHECK(spec.output.path == "/cwd/out.nc");
  CHECK(spec.forecast.steps == 2);
}

TEST_CASE("bad override values are reported with their flags, all at once", "[spec]") {
  SpecOverrides o;
  o.steps = 0;
  o.members = -2;
  o.compression = 12;
  o.keep_bits = 0;
  o.device = "tpu";
  o.precision = "fp8";
  o.attention = "splash";
  o.layout = "zarr";
  o.format = "zarr";
  o.edge_cache = "sometimes";
  o.init_time = "tomorrow";
  o.variables = std::vector<std::string>{"a", "a"};
  const auto problems = problems_of([&] { resolve_with(kFile, o, "/d", "/c"); });
  for (const char* flag : {"--steps", "--members", "--compression", "--keep-bits", "--device",
                           "--precision", "--attention", "--layout", "--format", "--edge-cache",
                           "--init-time", "--variables"}) {
    INFO(flag);
    const Problem* p = find_problem(problems, flag);
    REQUIRE(p != nullptr);
    CHECK(p->file == "command line");
    CHECK_FALSE(p->expected.empty());
    CHECK_FALSE(p->found.empty());
  }
  CHECK(problems.size() == 12);
}

TEST_CASE("override --steps with --lead-time, bad --lead-time and bad --member-ids are errors", "[spec]") {
  SpecOverrides both;
  both.steps = 3;
  both.lead_time = "36h";
  auto problems = problems_of([&] { resolve_with(kFile, both, "/d", "/c"); });
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].field == "--steps / --lead-time");

  SpecOverrides lead;
  lead.lead_time = "13h";
  problems = problems_of([&] { resolve_with(kFile, lead, "/d", "/c"); });
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].field == "--lead-time");
  CHECK(problems[0].file == "command line");

  SpecOverrides ids;
  ids.member_ids = std::vector<int64_t>{1, -1, 1};
  problems = problems_of([&] { resolve_with(kFile, ids, "/d", "/c"); });
  REQUIRE(problems.size() == 2);  // -1 out of range, 1 repeated
  CHECK(problems[0].field == "--member-ids");
  CHECK(problems[1].field == "--member-ids");
}

TEST_CASE("file problems and override problems are reported together", "[spec]") {
  SpecOverrides o;
  o.compression = 10;
  const std::string text = kFile + "extra: 1\n";
  const auto problems = problems_of([&] { resolve_with(text, o, "/d", "/c"); });
  REQUIRE(problems.size() == 2);
  CHECK(find_problem(problems, "extra (line ") != nullptr);
  CHECK(find_problem(problems, "--compression") != nullptr);
}

TEST_CASE("a cpu/bf16 conflict names whichever source set each side", "[spec]") {
  SpecOverrides o;
  o.device = "cpu";  // the file asks for tf32
  const auto problems = problems_of([&] { resolve_with(kFile, o, "/d", "/c"); });
  REQUIRE(problems.size() == 1);
  CHECK(contains(problems[0].field, "model.precision (line 4"));
  CHECK(contains(problems[0].hint, "command line: --device"));
}

TEST_CASE("resolve_run_spec resolves override paths against the current directory", "[spec]") {
  TempDir dir;
  const auto path = dir.write("cfg/spec.yaml", kFile);
  SpecOverrides o;
  o.checkpoint = "rel/ck.npz";
  const RunSpec spec = resolve_run_spec(path.string(), o);
  CHECK(spec.model.checkpoint == (fs::current_path() / "rel" / "ck.npz").lexically_normal().string());
  CHECK(spec.model.stats_dir == (dir.path() / "cfg" / "stats").string());  // from the file
}

TEST_CASE("an output that is one of the run's inputs is refused", "[spec][safety]") {
  // The spec's input is /data/cfg/in.nc; its stats folder /data/cfg/stats.
  for (const char* output : {"/data/cfg/in.nc", "/data/cfg/../cfg/./in.nc", "/data/cfg/ck.npz",
                             "/data/cfg/stats/mean_by_level.nc"}) {
    INFO(output);
    SpecOverrides o;
    o.output = output;
    const auto problems = problems_of([&] { resolve_with(kFile, o, "/data/cfg", "/c"); });
    const Problem* p = find_problem(problems, "--output");
    REQUIRE(p != nullptr);
    CHECK(contains(p->expected, "none of the run's inputs"));
  }
  SpecOverrides fine;
  fine.output = "/data/cfg/in-forecast.nc";
  CHECK(resolve_with(kFile, fine, "/data/cfg", "/c").output.path == "/data/cfg/in-forecast.nc");
}

TEST_CASE("runtime.probe_inputs: on by default, off from the file or --no-probe", "[spec][probe]") {
  CHECK(resolve_with(kFile, SpecOverrides{}, "/data/cfg", "/home/user").runtime.probe_inputs);
  const std::string off = kFile + "  probe_inputs: false\n";
  CHECK_FALSE(resolve_with(off, SpecOverrides{}, "/data/cfg", "/home/user").runtime.probe_inputs);
  SpecOverrides o;
  o.no_probe = true;
  CHECK_FALSE(o.empty());
  CHECK_FALSE(resolve_with(kFile, o, "/data/cfg", "/home/user").runtime.probe_inputs);
  CHECK_THROWS_WITH(resolve_with(kFile + "  probe_inputs: sometimes\n", SpecOverrides{}, "/data/cfg",
                                 "/home/user"),
                    Catch::Contains("runtime.probe_inputs (line 20, column 17): expected true or false"));
}
