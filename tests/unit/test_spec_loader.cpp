// Spec loading errors: every kind of problem names the file, the key path and
// its line:column, and a file's problems are reported together. Positions are
// derived in the test by locating the offending text in the YAML source.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "spec/spec_loader.h"
#include "test_spec_util.h"

using namespace gencast;
using namespace spec_test;

namespace {

// "(line L, column C)" of the first occurrence of `needle` in `text`, both
// 1-based, counted here independently of yaml-cpp.
std::string position_of(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') ++line, line_start = i + 1;
  }
  return "(line " + std::to_string(line) + ", column " + std::to_string(at - line_start + 1) + ")";
}

// Position of the value in a "key: value" entry of `text`.
std::string value_position(const std::string& text, const std::string& entry) {
  const size_t at = text.find(entry);
  REQUIRE(at != std::string::npos);
  const size_t sep = entry.find(": ");
  const size_t value_at = at + (sep == std::string::npos ? 0 : sep + 2);
  return position_of(text.substr(0, value_at) + "\x01", "\x01");
}

// Parse-level problems of `text` (no required-key or cross-field checks).
std::vector<Problem> parse_problems(const std::string& text) {
  const SpecDraft draft = parse_spec_text(SpecText{"spec.yaml", text, "/tmp", "/tmp"});
  return draft.problems.problems();
}

// Loads `text` as <tmp>/spec.yaml and returns the problems (the load must fail).
std::vector<Problem> load_problems(const TempDir& dir, const std::string& text) {
  const auto path = dir.write("spec.yaml", text);
  return problems_of([&] { load_run_spec(path); });
}

void check_problem(const std::vector<Problem>& problems, const std::string& field,
                   const std::string& expected_part, const std::string& found_part,
                   const std::string& file) {
  const Problem* p = find_problem(problems, field);
  INFO("looking for field '" << field << "' in:\n" << InputError(problems).what());
  REQUIRE(p != nullptr);
  CHECK(p->field == field);
  CHECK(p->file == file);
  CHECK(contains(p->expected, expected_part));
  CHECK(contains(p->found, found_part));
}

}  // namespace

TEST_CASE("a minimal spec loads with defaults and paths resolved against its folder", "[spec]") {
  TempDir dir;
  const auto path = dir.write("sub/spec.yaml", minimal_spec());
  const RunSpec spec = load_run_spec(path);
  const fs::path sub = dir.path() / "sub";
  CHECK(spec.model.checkpoint == (sub / "ck.npz").string());
  CHECK(spec.model.stats_dir == (sub / "stats").string());
  CHECK(spec.input.path == (sub / "in.nc").string());
  CHECK(spec.output.path == (sub / "out.nc").string());
  // Defaults documented in run_spec.h.
  const RunSpec defaults;
  CHECK(spec.forecast.steps == defaults.forecast.steps);
  CHECK(spec.forecast.members == defaults.forecast.members);
  CHECK(spec.forecast.member_ids.size() == static_cast<size_t>(defaults.forecast.members));
  CHECK(spec.forecast.member_ids.front() == 0);
  CHECK(spec.forecast.member_ids.back() == defaults.forecast.members - 1);
  CHECK(spec.runtime.device == "auto");
  CHECK(spec.output.ensemble_dim == "sample");
  CHECK_FALSE(spec.input.init_time.has_value());
  CHECK_FALSE(spec.sampler.any());
  CHECK(spec.source == path.string());
}

TEST_CASE("output.keep_bits: a bit count, or lossless when absent or empty", "[spec]") {
  TempDir dir;
  const std::string base = minimal_spec();  // ends inside output:
  CHECK(load_run_spec(dir.write("a.yaml", base)).output.keep_bits == 0);
  CHECK(load_run_spec(dir.write("b.yaml", base + "  keep_bits: 7\n")).output.keep_bits == 7);
  CHECK(load_run_spec(dir.write("c.yaml", base + "  keep_bits: 23\n")).output.keep_bits == 23);
  CHECK(load_run_spec(dir.write("d.yaml", base + "  keep_bits:\n")).output.keep_bits == 0);
}

TEST_CASE("relative paths in the file resolve against the file's folder, ../ included", "[spec]") {
  TempDir dir;
  const std::string text =
      "model:\n  checkpoint: ../params/GenCast 1p0deg <2019.npz\n  stats_dir: /abs/stats\n"
      "input:\n  path: ./data/../in.nc\noutput:\n  path: out/forecast.nc\n";
  const RunSpec spec = load_run_spec(dir.write("cfg/spec.yaml", text));
  CHECK(spec.model.checkpoint == (dir.path() / "params" / "GenCast 1p0deg <2019.npz").string());
  CHECK(spec.model.stats_dir == "/abs/stats");  // absolute paths stay as written
  CHECK(spec.input.path == (dir.path() / "cfg" / "in.nc").string());
  CHECK(spec.output.path == (dir.path() / "cfg" / "out" / "forecast.nc").string());
}

TEST_CASE("an unknown top-level key is named with its position and a suggestion", "[spec]") {
  TempDir dir;
  const std::string text = minimal_spec() + "runtme:\n  device: cpu\n";
  const auto problems = load_problems(dir, text);
  REQUIRE(problems.size() == 1);
  check_problem(problems, "runtme " + position_of(text, "runtme"), "runtime", "unknown key 'runtme'",
                (dir.path() / "spec.yaml").string());
  CHECK(contains(problems[0].hint, "did you mean 'runtime'"));
}

TEST_CASE("an unknown nested key is named by its full key path and position", "[spec]") {
  TempDir dir;
  const std::string text = minimal_spec() + "forecast:\n  steps: 4\n  member: 3\n";
  const auto problems = load_problems(dir, text);
  REQUIRE(problems.size() == 1);
  check_problem(problems, "forecast.member " + position_of(text, "member:"), "members",
                "unknown key 'member'", (dir.path() / "spec.yaml").string());
  CHECK(contains(problems[0].hint, "did you mean 'members'"));
}

TEST_CASE("wrong value types are errors naming key, position, expected and found", "[spec]") {
  TempDir dir;
  const std::string file = (dir.path() / "spec.yaml").string();
  SECTION("a word for an integer") {
    const std::string text = minimal_spec() + "forecast:\n  steps: thirty\n";
    const auto problems = load_problems(dir, text);
    REQUIRE(problems.size() == 1);
    check_problem(problems, "forecast.steps " + position_of(text, "thirty"), "integer",
                  "'thirty'", file);
  }
  SECTION("an unknown output format names the formats there are") {
    const std::string text = minimal_spec() + "  format: zarr\n";  // inside output:
    const auto problems = load_problems(dir, text);
    REQUIRE(problems.size() == 1);
    check_problem(problems, "output.format " + position_of(text, "zarr"), "netcdf", "'zarr'",
                  file);
  }
  SECTION("output.resume takes true or false") {
    const std::string text = minimal_spec() + "  resume: yes please\n";  // inside output:
    check_problem(load_problems(dir, text), "output.resume " + position_of(text, "yes please"),
                  "true or false", "'yes please'", file);
  }
  SECTION("a quoted number is a string, not an integer") {
    const std::string text = minimal_spec() + "forecast:\n  members: \"8\"\n";
    const auto problems = load_problems(dir, text);
    REQUIRE(problems.size() == 1);
    check_problem(problems, "forecast.members " + position_of(text, "\"8\""), "integer",
                  "quoted string '8'", file);
  }
  SECTION("a fraction for an integer") {
    const std::string text = minimal_spec() + "forecast:\n  steps: 2.5\n";
    check_problem(load_problems(dir, text), "forecast.steps " + position_of(text, "2.5"),
                  "integer", "'2.5'", file);
  }
  SECTION("a scalar where a section belongs") {
    const std::string text = minimal_spec() + "runtime: cpu\n";
    check_problem(load_problems(dir, text), "runtime " + position_of(text, "cpu"), "section",
                  "'cpu'", file);
  }
  SECTION("a list where a path belongs") {
    const std::string text =
        "model:\n  checkpoint: [a.npz, b.npz]\n  stats_dir: s\ninput:\n  path: i.nc\n"
        "output:\n  path: o.nc\n";
    const auto problems = load_problems(dir, text);
    // Reported once as a type error, not a second time as "missing".
    REQUIRE(problems.size() == 1);
    check_problem(problems, "model.checkpoint " + position_of(text, "[a.npz"), "path", "a list",
                  file);
  }
  SECTION("a scalar where a list belongs") {
    const std::string text = minimal_spec() + "forecast:\n  member_ids: 3\n";
    check_problem(load_problems(dir, text), "forecast.member_ids " + position_of(text, "3\n"),
                  "list", "'3'", file);
  }
  SECTION("an empty value for an integer") {
    const std::string text = minimal_spec() + "forecast:\n  seed:\n";
    const auto problems = load_problems(dir, text);
    REQUIRE(problems.size() == 1);
    // A null value has no position of its own: the key's is reported.
    check_problem(problems, "forecast.seed " + position_of(text, "seed:"),
                  "unsigned 64-bit integer", "nothing (null)", file);
  }
  SECTION("an unknown choice") {
    const std::string text = minimal_spec() + "runtime:\n  device: gpu0\n";
    check_problem(load_problems(dir, text), "runtime.device " + position_of(text, "gpu0"),
                  "cpu or cuda:N", "'gpu0'", file);
  }
}

TEST_CASE("out-of-range values are errors", "[spec]") {
  // Parse-level checks only (parse_spec_text), so each case needs no
  // required keys and reports exactly its own problem.
  struct Case {
    const char* yaml;
    const char* field;   // key path reported
    const char* entry;   // "key: value" (the value's position is reported) or the value text
    const char* expected_part;
  };
  const Case cases[] = {
      {"forecast:\n  steps: 0\n", "forecast.steps", "steps: 0", "from 1"},
      {"forecast:\n  steps: -3\n", "forecast.steps", "steps: -3", "from 1"},
      {"forecast:\n  steps: 100001\n", "forecast.steps", "steps: 100001", "from 1"},
      {"forecast:\n  members: 0\n", "forecast.members", "members: 0", "from 1"},
      {"forecast:\n  seed: -1\n", "forecast.seed", "seed: -1", "unsigned"},
      {"forecast:\n  seed: 18446744073709551616\n", "forecast.seed", "seed: 1", "unsigned"},
      {"forecast:\n  member_ids: [0, -1]\n", "forecast.member_ids[1]", "-1]", "from 0"},
      {"forecast:\n  member_ids: [0, 2, 2]\n", "forecast.member_ids[2]", "2]", "distinct"},
      {"output:\n  compression: 10\n", "output.compression", "compression: 10", "0 to 9"},
      {"output:\n  compression: -1\n", "output.compression", "compression: -1", "0 to 9"},
      {"output:\n  keep_bits: 0\n", "output.keep_bits", "keep_bits: 0", "from 1 to 23"},
      {"output:\n  keep_bits: 24\n", "output.keep_bits", "keep_bits: 24", "from 1 to 23"},
      {"output:\n  ensemble_dim: my-dim\n", "output.ensemble_dim", "ensemble_dim: my-dim",
       "NetCDF name"},
      {"output:\n  ensemble_dim: 2x\n", "output.ensemble_dim", "ensemble_dim: 2x",
       "NetCDF name"},
      {"output:\n  variables: [2m_temperature, 2m_temperature]\n", "output.variables[1]",
       "2m_temperature]", "distinct"},
      {"runtime:\n  edge_cache: maybe\n", "runtime.edge_cache", "edge_cache: maybe",
       "auto, on or off"},
      {"sampler:\n  rho: -7\n", "sampler.rho", "rho: -7", "> 0"},
      {"sampler:\n  max_noise_level: .nan\n", "sampler.max_noise_level",
       "max_noise_level: .nan", "finite"},
      {"sampler:\n  min_noise_level: .inf\n", "sampler.min_noise_level",
       "min_noise_level: .inf", "finite"},
      {"sampler:\n  num_noise_levels: 0\n", "sampler.num_noise_levels",
       "num_noise_levels: 0", "from 1"},
      {"input:\n  init_time: 2019-02-30T12:00\n", "input.init_time",
       "init_time: 2019-02-30T12:00", "ISO 8601"},
  };
  for (const auto& c : cases) {
    const std::string text = c.yaml;
    INFO(text);
    const auto problems = parse_problems(text);
    REQUIRE(problems.size() == 1);
    check_problem(problems, std::string(c.field) + " " + value_position(text, c.entry),
                  c.expected_part, "", "spec.yaml");
  }
}

TEST_CASE("sampler values are checked against each other when both are given", "[spec]") {
  const std::string text = "sampler:\n  max_noise_level: 1\n  min_noise_level: 2\n";
  const auto problems = parse_problems(text);
  REQUIRE(problems.size() == 1);
  check_problem(problems, "sampler.min_noise_level " + value_position(text, "min_noise_level: 2"),
                "below sampler.max_noise_level", "'2'", "spec.yaml");
}

TEST_CASE("steps and lead_time together are an error naming both positions", "[spec]") {
  TempDir dir;
  const std::string text = minimal_spec() + "forecast:\n  steps: 30\n  lead_time: 15d\n";
  const auto problems = load_problems(dir, text);
  REQUIRE(problems.size() == 1);
  check_problem(problems, "forecast.lead_time " + position_of(text, "15d"),
                "exactly one of forecast.steps and forecast.lead_time",
                "forecast.steps " + position_of(text, "30"), (dir.path() / "spec.yaml").string());
}

TEST_CASE("lead_time in the file becomes steps; a bad lead_time names its position", "[spec]") {
  TempDir dir;
  CHECK(load_run_spec(dir.write("a.yaml", minimal_spec() + "forecast:\n  lead_time: 15d\n"))
            .forecast.steps == 30);
  CHECK(load_run_spec(dir.write("b.yaml", minimal_spec() + "forecast:\n  lead_time: 36h\n"))
            .forecast.steps == 3);
  const std::string text = minimal_spec() + "forecast:\n  lead_time: 13h\n";
  const auto problems = load_problems(dir, text);
  REQUIRE(problems.size() == 1);
  check_problem(problems, "forecast.lead_time " + position_of(text, "13h"), "multiple of 12 h",
                "'13h'", (dir.path() / "spec.yaml").string());
  CHECK(contains(problems[0].hint, "12h or 24h"));
}

TEST_CASE("lead time text converts to 12 h steps", "[spec]") {
  // 15 days = 360 h = 30 steps; 36 h = 3 steps (arithmetic, not fixtures).
  CHECK(lead_time_to_steps("15d", "f", "k") == 30);
  CHECK(lead_time_to_steps("36h", "f", "k") == 3);
  CHECK(lead_time_to_steps("12h", "f", "k") == 1);
  CHECK(lead_time_to_steps("360h", "f", "k") == 30);
  CHECK(lead_time_to_steps("1d", "f", "k") == 2);
  for (const char* bad : {"13h", "0h", "0d", "15", "h", "", "-12h", "1.5d", "2w", "12 h", "0x18h",
                          "1e3h"}) {
    INFO(bad);
    const auto problems = problems_of([&] { lead_time_to_steps(bad, "spec.yaml", "forecast.lead_time"); });
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].file == "spec.yaml");
    CHECK(problems[0].field == "forecast.lead_time");
  }
}

TEST_CASE("missing required keys are named, with the flag that can supply them", "[spec]") {
  TempDir dir;
  const std::string file = (dir.path() / "spec.yaml").string();
  SECTION("one missing") {
    const auto problems =
        load_problems(dir, "model:\n  stats_dir: s\ninput:\n  path: i\noutput:\n  path: o\n");
    REQUIRE(problems.size() == 1);
    check_problem(problems, "model.checkpoint", "checkpoint", "no value", file);
    CHECK(contains(problems[0].hint, "--checkpoint"));
  }
  SECTION("an empty file misses all four") {
    const auto problems = load_problems(dir, "# nothing here\n");
    REQUIRE(problems.size() == 4);
    for (const char* key : {"model.checkpoint", "model.stats_dir", "input.path", "output.path"})
      check_problem(problems, key, "path", "no value", file);
  }
}

TEST_CASE("a YAML syntax error names the file, line and column", "[spec]") {
  TempDir dir;
  const std::string text = "model:\n  checkpoint: [a, b\ninput:\n  path: i\n";
  const auto problems = load_problems(dir, text);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].file == (dir.path() / "spec.yaml").string());
  CHECK(contains(problems[0].field, "YAML syntax (line "));
  CHECK(contains(problems[0].field, ", column "));
  CHECK(problems[0].expected == "valid YAML");
  CHECK(contains(problems[0].found, "syntax error"));
  CHECK(problems[0].hint.empty());
}

TEST_CASE("a YAML syntax error from tab indentation says so", "[spec]") {
  TempDir dir;
  const auto problems = load_problems(dir, "model:\n\tcheckpoint: ck.npz\n");
  REQUIRE(problems.size() == 1);
  CHECK(contains(problems[0].field, "YAML syntax (line 2, "));
  CHECK(contains(problems[0].hint, "tab"));
}

TEST_CASE("a spec whose top level is not a mapping is rejected", "[spec]") {
  TempDir dir;
  const auto problems = load_problems(dir, "- model\n- input\n");
  REQUIRE(problems.size() == 1);
  CHECK(contains(problems[0].field, "(document) (line 1, column 1)"));
  CHECK(problems[0].found == "a list");
}

TEST_CASE("a duplicate key is an error at the second occurrence", "[spec]") {
  TempDir dir;
  const std::string text = minimal_spec() + "forecast:\n  steps: 2\n  seed: 1\n  steps: 3\n";
  const auto problems = load_problems(dir, text);
  REQUIRE(problems.size() == 1);
  // The second "steps" is the one after "seed".
  const size_t second = text.find("steps", text.find("seed"));
  CHECK(problems[0].field ==
        "forecast.steps " + position_of(text.substr(0, second) + "\x01", "\x01"));
  CHECK(contains(problems[0].found, "second 'steps'"));
}

TEST_CASE("every problem of a file is reported at once", "[spec]") {
  const fs::path path = fs::path(GENCAST_TEST_DATA_DIR) / "specs" / "many_problems.yaml";
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  const std::string file = path.string();
  const auto problems = problems_of([&] { load_run_spec(path); });
  INFO(InputError(problems).what());
  CHECK(problems.size() == 13);
  check_problem(problems, "model.precision " + position_of(text, "fp64"), "bf16", "'fp64'", file);
  check_problem(problems, "input.init_time " + position_of(text, "yesterday"), "ISO 8601",
                "'yesterday'", file);
  check_problem(problems, "forecast.steps " + position_of(text, "many"), "integer", "'many'", file);
  check_problem(problems, "forecast.members " + value_position(text, "members: 0"), "from 1",
                "'0'", file);
  check_problem(problems, "forecast.member_ids[1] " + position_of(text, "1, -3"), "distinct",
                "member 1 a second time", file);
  check_problem(problems, "forecast.member_ids[2] " + position_of(text, "-3"), "from 0", "'-3'",
                file);
  check_problem(problems, "forecast.colour " + position_of(text, "colour"), "members",
                "unknown key 'colour'", file);
  check_problem(problems, "sampler.rho " + position_of(text, ".nan"), "finite", "'.nan'", file);
  check_problem(problems, "output.compression " + position_of(text, "11"), "0 to 9", "'11'", file);
  check_problem(problems, "output.variables " + value_position(text, "variables: 2m"), "list",
                "'2m_temperature'", file);
  check_problem(problems, "runtime.device " + position_of(text, "gpu"), "cuda:N", "'gpu'", file);
  check_problem(problems, "runtime.edge_cache " + position_of(text, "edge_cache"),
                "auto, on or off", "nothing (null)", file);
  check_problem(problems, "model.stats_dir", "statistics", "no value", file);
}

TEST_CASE("a missing spec file and a folder are input errors", "[spec]") {
  TempDir dir;
  auto problems = problems_of([&] { load_run_spec(dir.path() / "nope.yaml"); });
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].file == (dir.path() / "nope.yaml").string());
  CHECK(problems[0].found == "no such file");
  problems = problems_of([&] { load_run_spec(dir.path()); });
  CHECK(problems[0].found == "a folder");
}

TEST_CASE("special files and huge files are refused without reading them", "[spec][safety]") {
  // /dev/zero would be read forever; a FIFO would block the open.
  auto problems = problems_of([&] { load_run_spec("/dev/zero"); });
  REQUIRE(problems.size() == 1);
  CHECK(contains(problems[0].found, "special file"));
  TempDir dir;
  const fs::path fifo = dir.path() / "spec.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  problems = problems_of([&] { load_run_spec(fifo); });
  REQUIRE(problems.size() == 1);
  CHECK(contains(problems[0].found, "special file"));
  const fs::path big = dir.path() / "big.yaml";
  {
    std::ofstream out(big);
    out << minimal_spec() << "# " << std::string(size_t{2} << 20, 'x') << "\n";
  }
  problems = problems_of([&] { load_run_spec(big); });
  REQUIRE(problems.size() == 1);
  CHECK(contains(problems[0].expected, "at most 1024 KiB"));
}

TEST_CASE("precision tf32/bf16 on the cpu device is rejected", "[spec]") {
  TempDir dir;
  const std::string with_bf16 =
      "model:\n  checkpoint: c\n  precision: bf16\n  stats_dir: s\ninput:\n  path: i\n"
      "output:\n  path: o\nruntime:\n  device: cpu\n";
  const auto problems = load_problems(dir, with_bf16);
  REQUIRE(problems.size() == 1);
  check_problem(problems, "model.precision " + position_of(with_bf16, "bf16"), "fp32", "bf16",
                (dir.path() / "spec.yaml").string());
  CHECK(contains(problems[0].hint, "runtime.device"));
}

TEST_CASE("init_time accepts ISO 8601 forms and normalises them", "[spec]") {
  using namespace std::chrono;
  const sys_seconds noon = sys_days{2019y / March / 29} + hours{12};
  for (const char* text : {"2019-03-29T12:00", "2019-03-29T12:00:00", "2019-03-29 12:00",
                           "2019-03-29T12", "2019-03-29T12:00Z"}) {
    INFO(text);
    const auto t = parse_init_time(text);
    REQUIRE(t.has_value());
    CHECK(*t == noon);
  }
  CHECK(parse_init_time("2019-03-29") == sys_seconds{sys_days{2019y / March / 29}});
  CHECK(parse_init_time("2020-02-29T00:00").has_value());  // leap day
  for (const char* bad : {"2019-02-29T00:00", "2019-13-01", "2019-03-29T24:00",
                          "2019-03-29T12:60", "2019-3-29", "29/03/2019", "2019-03-29T12:00+01:00",
                          "2019-03-29T12:00:00.5", ""}) {
    INFO(bad);
    CHECK_FALSE(parse_init_time(bad).has_value());
  }
  CHECK(format_init_time(noon + minutes{30} + seconds{5}) == "2019-03-29T12:30:05");
}

TEST_CASE("the precision table drives parsing, names and tolerances", "[spec]") {
  CHECK(precision_choices() == "fp32, tf32 or bf16");
  for (const PrecisionInfo& info : precision_table()) {
    INFO(info.name);
    CHECK(find_precision(info.name) == info.id);
    CHECK(std::string(precision_name(info.id)) == info.name);
    CHECK(info.gpu_tolerance > 0);
    CHECK(info.gpu_only == (info.id != Precision::fp32));
  }
  CHECK(precision_info(Precision::bf16).activations == DType::bf16);
  CHECK(precision_bytes(Precision::tf32) == 4);
  CHECK_FALSE(find_precision("fp8").has_value());
  CHECK_THROWS_AS(parse_precision("fp8"), InputError);
}

TEST_CASE("device names parse once, for the spec and the backend factory", "[spec]") {
  CHECK(parse_device_name("cuda:2") == DeviceName{DeviceName::Kind::cuda, 2});
  CHECK(parse_device_name("cpu").text() == "cpu");
  CHECK_THROWS_AS(parse_device_name("tpu:0"), InputError);
}

TEST_CASE("device names are canonical", "[spec]") {
  CHECK(canonical_device("cpu") == "cpu");
  CHECK(canonical_device("cuda") == "cuda:0");
  CHECK(canonical_device("cuda:3") == "cuda:3");
  CHECK(canonical_device("cuda:03") == "cuda:3");
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "CPU", ""}) {
    INFO(bad);
    CHECK_FALSE(canonical_device(bad).has_value());
  }
}

TEST_CASE("output.plot and runtime.device auto parse; bad values are named", "[spec]") {
  const std::string base =
      "model: {checkpoint: ck.npz, stats_dir: stats}\ninput: {path: in.nc}\n";
  const SpecDraft ok = parse_spec_text(
      SpecText{"spec.yaml", base + "output: {path: out.nc, plot: true}\nruntime: {device: auto}\n",
               "/tmp", "/tmp"});
  CHECK(ok.problems.empty());
  CHECK(ok.spec.output.plot);
  CHECK(ok.spec.runtime.device == "auto");
  CHECK_FALSE(RunSpec{}.output.plot);
  const auto bad = parse_problems(base + "output: {path: out.nc, plot: 3}\nruntime: {device: any}\n");
  const Problem* plot = find_problem(bad, "output.plot");
  REQUIRE(plot != nullptr);
  CHECK(contains(plot->expected, "true or false"));
  const Problem* device = find_problem(bad, "runtime.device");
  REQUIRE(device != nullptr);
  CHECK(contains(device->expected, "auto"));

  TempDir dir;
  const auto grib = load_problems(dir, base + "output: {path: out.grib2, plot: true}\n");
  const Problem* p = find_problem(grib, "output.plot");
  REQUIRE(p != nullptr);
  CHECK(contains(p->found, "grib"));
}
