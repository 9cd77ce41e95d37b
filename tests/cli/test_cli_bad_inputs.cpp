// The bad-input catalogue: every row of docs/bad-inputs.md is a case here
// (a test checks that the two lists agree). Each case prepares one hostile
// input (spec, checkpoint, statistics, input file, output path, disk, signal)
// and runs `check-config` and `forecast` on it, asserting
//  - the exit code (2 for bad input, 1 for a run that could not finish),
//  - a message naming what is wrong,
//  - no output and no partial file left (the output folder is as before),
//  - no input changed (content hashes before and after).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/bad_input_files.h"
#include "cli/cli_runner.h"
#include "io/checkpoint_reader.h"
#include "io/netcdf_input.h"
#include "io/npz.h"
#include "unit/test_grib_files.h"
#include "unit/test_input_files.h"

using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

const std::string kFixtureDir = std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny";
std::string fixture(const std::string& name) { return kFixtureDir + "/" + name; }

const char* kStatsFiles[] = {"mean_by_level.nc", "stddev_by_level.nc", "diffs_stddev_by_level.nc",
                             "min_by_level.nc"};

// What one run reads and writes. Defaults: the tiny fixture, output in out/.
struct Run {
  std::string checkpoint = fixture("tiny_checkpoint.npz");
  std::string stats_dir = kFixtureDir;
  std::string input = fixture("source_tiny.nc");
  std::vector<std::string> more_inputs;  // further --input files (GRIB)
  std::string output;  // <case folder>/out/forecast.nc
  // The spec file; configs/tiny.yaml (output.overwrite false, unlike the
  // built-in demo spec) with every path given as a flag.
  std::string spec = std::string(GENCAST_SOURCE_DIR) + "/configs/tiny.yaml";
  std::string flags;       // more flags
  std::string env;         // "NAME=value " in front of the command
  bool path_flags = true;  // pass --checkpoint/--stats-dir/--input/--output
  bool check_config = true, forecast = true;  // which commands to run
};

struct Case {
  const char* id;  // the row of docs/bad-inputs.md
  int exit_code;
  const char* message;  // the output must contain this
  std::function<void(const TempDir&, Run&)> prepare;
};

// A spec naming the fixture files, for the cases that edit a spec.
std::string base_spec(const Run& r) {
  return "model:\n  checkpoint: " + r.checkpoint + "\n  stats_dir: " + r.stats_dir +
         "\ninput:\n  path: " + r.input + "\n  init_time: 2019-03-29T12:00\nforecast:\n"
         "  steps: 1\n  members: 1\n  seed: 0\noutput:\n  path: " + r.output +
         "\nruntime:\n  device: cpu\n";
}

// The case uses a spec file: `edit` turns the base spec into the bad one.
std::function<void(const TempDir&, Run&)> spec_case(std::function<std::string(std::string)> edit) {
  return [edit](const TempDir& dir, Run& r) {
    r.spec = dir.write("run.yaml", edit(base_spec(r))).string();
    r.path_flags = false;
  };
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// A checkpoint copy with `edit` applied to the first member whose name holds `part`.
std::function<void(const TempDir&, Run&)> checkpoint_case(
    const std::string& part, std::function<void(std::string& name, std::string& bytes)> edit) {
  return [part, edit](const TempDir& dir, Run& r) {
    r.checkpoint = dir.file("checkpoint.npz");
    bool done = false;
    rewrite_npz(fixture("tiny_checkpoint.npz"), r.checkpoint, [&](std::string& name, std::string& bytes) {
      if (!done && name.find(part) != std::string::npos) {
        edit(name, bytes);
        done = true;
      }
      return true;
    });
    REQUIRE(done);
  };
}

// An input copy edited through TestNcFile.
std::function<void(const TempDir&, Run&)> input_case(std::function<void(TestNcFile&)> edit) {
  return [edit](const TempDir& dir, Run& r) {
    TestNcFile f = TestNcFile::load(fixture("source_tiny.nc"));
    edit(f);
    r.input = dir.file("source.nc");
    f.write(r.input);
  };
}

// A statistics folder of copies, `file` edited through TestNcFile (or removed).
std::function<void(const TempDir&, Run&)> stats_case(const std::string& file,
                                                     std::function<void(TestNcFile&)> edit) {
  return [file, edit](const TempDir& dir, Run& r) {
    r.stats_dir = dir.file("stats");
    fs::create_directories(r.stats_dir);
    for (const char* name : kStatsFiles) {
      const std::string dst = r.stats_dir + "/" + name;
      if (name != file) {
        fs::copy_file(fixture(name), dst);
      } else if (edit) {
        TestNcFile f = TestNcFile::load(fixture(name));
        edit(f);
        f.write(dst);
      }
    }
  };
}

// The fixture input written as one ERA5-style GRIB file (io/grib_input.h),
// then `edit`ed as bytes.
std::function<void(const TempDir&, Run&)> grib_case(std::function<void(std::string&)> edit) {
  return [edit](const TempDir& dir, Run& r) {
    const gencast::TaskConfig task =
        gencast::read_model_config(gencast::NpzReader(fixture("tiny_checkpoint.npz"))).task;
    const gencast::InputDataset ds =
        gencast::read_input_dataset(fixture("source_tiny.nc"), task, "2019-03-29T12:00");
    Era5GribOptions o;
    o.split = false;
    r.input = write_era5_grib(ds, dir.path(), o).front();
    std::ifstream in(r.input, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    edit(bytes);
    std::ofstream(r.input, std::ios::binary | std::ios::trunc) << bytes;
  };
}

// Raw bytes: the first `keep` bytes of `src` (or `text` when src is empty).
void write_bytes(const std::string& path, const std::string& src, size_t keep,
                 const std::string& text = "") {
  std::string bytes = text;
  if (!src.empty()) {
    std::ifstream in(src, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    bytes.resize(std::min(keep, bytes.size()));
  }
  std::ofstream(path, std::ios::binary) << bytes;
}

void set_all(TestNcFile& f, const std::string& var, double value) {
  for (double& v : f.var(var).values) v = value;
}

std::vector<Case> cases() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {
      // ---- run spec (YAML) ----
      {"spec-tab-indent", 2, "tab at the start of a line",
       spec_case([](std::string s) { return replace(s, "\n  steps:", "\n\tsteps:"); })},
      {"spec-duplicate-key", 2, "each key once",
       spec_case([](std::string s) { return replace(s, "  steps: 1\n", "  steps: 1\n  steps: 2\n"); })},
      {"spec-unknown-key", 2, "did you mean 'steps'",
       spec_case([](std::string s) { return replace(s, "  steps: 1", "  stepz: 1"); })},
      {"spec-wrong-type", 2, "forecast.steps",
       spec_case([](std::string s) { return replace(s, "  steps: 1", "  steps: two"); })},
      {"spec-quoted-number", 2, "the quoted string '1'",
       spec_case([](std::string s) { return replace(s, "  members: 1", "  members: \"1\""); })},
      {"spec-huge-number", 2, "an integer from 1 to 100000",
       spec_case([](std::string s) { return replace(s, "  steps: 1", "  steps: 99999999999999999999999"); })},
      {"spec-negative-members", 2, "forecast.members",
       spec_case([](std::string s) { return replace(s, "  members: 1", "  members: -3"); })},
      {"spec-members-zero", 2, "forecast.members",
       spec_case([](std::string s) { return replace(s, "  members: 1", "  members: 0"); })},
      {"spec-negative-seed", 2, "an unsigned 64-bit integer",
       spec_case([](std::string s) { return replace(s, "  seed: 0", "  seed: -1"); })},
      {"spec-bad-lead-time", 2, "multiple of 12 h",
       spec_case([](std::string s) { return replace(s, "  steps: 1", "  lead_time: 13h"); })},
      {"spec-steps-and-lead-time", 2, "exactly one of forecast.steps and forecast.lead_time",
       spec_case([](std::string s) { return replace(s, "  steps: 1", "  steps: 1\n  lead_time: 24h"); })},
      {"spec-bad-init-time", 2, "ISO 8601",
       spec_case([](std::string s) { return replace(s, "2019-03-29T12:00", "2019-02-30T12:00"); })},
      {"spec-not-a-mapping", 2, "a mapping with the sections",
       spec_case([](std::string) { return std::string("- model\n- input\n"); })},
      {"spec-empty-file", 2, "model.checkpoint", spec_case([](std::string) { return std::string(); })},
      {"spec-binary-garbage", 2, "run.yaml",
       spec_case([](std::string) { return std::string("\x7f" "ELF\x02\x01\x01\x00\xff\xfe: [\x01", 14); })},
      {"spec-not-utf8", 2, "text (line 8, column 14): expected UTF-8 text (YAML is Unicode)",
       // A Latin-1 spec (0xe4 is "ä"); yaml-cpp took such bytes, and the
       // resolved spec then named another file.
       spec_case([](std::string s) { return replace(s, "  steps: 1", "  steps: 1 # \xe4"); })},
      {"spec-missing-file", 2, "no such file",
       [](const TempDir& dir, Run& r) { r.spec = dir.file("absent.yaml"); r.path_flags = false; }},
      {"spec-dev-zero", 2, "a special file",
       [](const TempDir&, Run& r) { r.spec = "/dev/zero"; r.path_flags = false; }},
      {"spec-fifo", 2, "a special file",
       [](const TempDir& dir, Run& r) {
         r.spec = dir.file("fifo.yaml");
         REQUIRE(::mkfifo(r.spec.c_str(), 0600) == 0);
         r.path_flags = false;
       }},
      {"spec-huge-file", 2, "at most 1024 KiB",
       [](const TempDir& dir, Run& r) {
         r.spec = dir.write("huge.yaml", base_spec(r) + "# " + std::string(2 << 20, 'x') + "\n").string();
         r.path_flags = false;
       }},
      // ---- checkpoint ----
      {"ckpt-zero-bytes", 2, "checkpoint.npz",
       [](const TempDir& dir, Run& r) { r.checkpoint = dir.file("checkpoint.npz"); write_bytes(r.checkpoint, "", 0); }},
      {"ckpt-truncated", 2, "a damaged zip archive",
       [](const TempDir& dir, Run& r) {
         r.checkpoint = dir.file("checkpoint.npz");
         write_bytes(r.checkpoint, fixture("tiny_checkpoint.npz"), 200000);
       }},
      {"ckpt-foreign-zip", 2, "description: expected a 0-d unicode string",
       [](const TempDir& dir, Run& r) {
         r.checkpoint = dir.file("checkpoint.npz");
         rewrite_npz(fixture("tiny_checkpoint.npz"), r.checkpoint, [](std::string& name, std::string& bytes) {
           if (name != "description.npy") return false;
           name = "README.txt";
           bytes = "not a checkpoint";
           return true;
         });
       }},
      {"ckpt-not-npz-text", 2, "not a zip archive",
       [](const TempDir& dir, Run& r) {
         r.checkpoint = dir.file("checkpoint.npz");
         write_bytes(r.checkpoint, "", 0, "model weights, see attachment\n");
       }},
      {"ckpt-renamed-array", 2, "the parameter is missing",
       checkpoint_case("params:", [](std::string& name, std::string&) { name = replace(name, "params:", "params:renamed_"); })},
      {"ckpt-wrong-dtype", 2, "float32 (or float64/bfloat16/float16) values",
       checkpoint_case("params:", [](std::string&, std::string& bytes) {
         bytes = npy_with_dict(bytes, replace(npy_dict(bytes), "'<f4'", "'<i4'"));
       })},
      {"ckpt-huge-declared-shape", 2, "an array of at most 1 TiB",
       checkpoint_case("params:", [](std::string&, std::string& bytes) {
         bytes = npy_with_dict(bytes, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 512), }");
       })},
      {"ckpt-shape-data-mismatch", 2, "npy data",
       checkpoint_case("params:", [](std::string&, std::string& bytes) { bytes.resize(bytes.size() - 4); })},
      {"ckpt-nan-weights", 2, "finite values",
       checkpoint_case("params:", [](std::string&, std::string& bytes) {
         const float v = std::numeric_limits<float>::quiet_NaN();
         std::memcpy(bytes.data() + npy_data_offset(bytes), &v, sizeof v);
       })},
      {"ckpt-inf-weights", 2, "finite values",
       checkpoint_case("params:", [](std::string&, std::string& bytes) {
         const float v = std::numeric_limits<float>::infinity();
         std::memcpy(bytes.data() + npy_data_offset(bytes) + 4, &v, sizeof v);
       })},
      {"ckpt-absurd-config", 2, "hidden_layers: expected an integer from 0 to 64",
       checkpoint_case("hidden_layers", [](std::string&, std::string& bytes) {
         const int64_t v = int64_t{1} << 57;  // was an endless loop building the schema
         std::memcpy(bytes.data() + npy_data_offset(bytes), &v, sizeof v);
       })},
      {"ckpt-corrupt-member", 2, "expected data matching the member's CRC-32",
       [](const TempDir& dir, Run& r) {
         // One flipped byte in a weight, the archive otherwise intact.
         r.checkpoint = dir.file("checkpoint.npz");
         std::ifstream in(fixture("tiny_checkpoint.npz"), std::ios::binary);
         std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
         const size_t at = bytes.find("params:");
         REQUIRE(at != std::string::npos);
         bytes[at + 2000] = static_cast<char>(bytes[at + 2000] ^ 0x10);
         std::ofstream(r.checkpoint, std::ios::binary) << bytes;
       }},
      {"ckpt-is-a-folder", 2, "model.checkpoint",
       [](const TempDir& dir, Run& r) { r.checkpoint = dir.path().string(); }},
      // ---- statistics ----
      {"stats-missing-file", 2, "min_by_level.nc", stats_case("min_by_level.nc", nullptr)},
      {"stats-renamed-variable", 2, "2m_temperature",
       stats_case("mean_by_level.nc", [](TestNcFile& f) { f.var("2m_temperature").name = "t2m"; })},
      {"stats-zero-stddev", 2, "finite values > 0",
       stats_case("stddev_by_level.nc", [](TestNcFile& f) { set_all(f, "temperature", 0); })},
      {"stats-nan-mean", 2, "finite values",
       stats_case("mean_by_level.nc", [](TestNcFile& f) { set_all(f, "geopotential", std::nan("")); })},
      {"stats-missing-levels", 2, "missing 1000",
       stats_case("mean_by_level.nc", [](TestNcFile& f) {
         std::vector<size_t> keep;
         for (size_t i = 0; i + 1 < f.dim_size("level"); ++i) keep.push_back(i);
         f.select_along("level", keep);
       })},
      {"stats-truncated-file", 2, "diffs_stddev_by_level.nc",
       [](const TempDir& dir, Run& r) {
         stats_case("diffs_stddev_by_level.nc", nullptr)(dir, r);
         write_bytes(r.stats_dir + "/diffs_stddev_by_level.nc", fixture("diffs_stddev_by_level.nc"), 3000);
       }},
      // ---- input file ----
      {"input-missing-variable", 2, "specific_humidity: expected an input variable of the model",
       input_case([](TestNcFile& f) { f.remove_var("specific_humidity"); })},
      {"input-renamed-variable", 2, "2m_temperature",
       input_case([](TestNcFile& f) { f.var("2m_temperature").name = "t2m"; })},
      {"input-missing-level", 2, "missing 1000",
       input_case([](TestNcFile& f) {
         std::vector<size_t> keep;
         for (size_t i = 0; i + 1 < f.dim_size("level"); ++i) keep.push_back(i);
         f.select_along("level", keep);
       })},
      {"input-one-time", 2, "12 h before init_time",
       input_case([](TestNcFile& f) { f.select_along("time", {1}); })},
      {"input-all-nan-field", 2, "NaN value(s)",
       input_case([nan](TestNcFile& f) { set_all(f, "temperature", nan); })},
      {"input-all-nan-sst", 2, "NaN everywhere",
       input_case([nan](TestNcFile& f) { set_all(f, "sea_surface_temperature", nan); })},
      {"input-inf-value", 2, "infinite value(s)",
       // netCDF refuses to store inf in a float variable; CF packing makes it.
       input_case([](TestNcFile& f) { f.var("geopotential").number_attrs["scale_factor"] = 1e38; })},
      {"input-wrong-grid", 2, "n_lon = 2 * (n_lat - 1)",
       input_case([](TestNcFile& f) {
         std::vector<size_t> keep;
         for (size_t i = 0; i + 1 < f.dim_size("lon"); ++i) keep.push_back(i);
         f.select_along("lon", keep);
       })},
      {"input-regional-grid", 2, "latitudes from -90 to 90",
       input_case([](TestNcFile& f) {
         std::vector<size_t> keep;
         for (size_t i = 0; i < f.dim_size("lat") / 2 + 1; ++i) keep.push_back(i);
         f.select_along("lat", keep);
         std::vector<size_t> lon;
         for (size_t i = 0; i < 2 * (keep.size() - 1); ++i) lon.push_back(i);
         f.select_along("lon", lon);
       })},
      {"input-zero-bytes", 2, "not a NetCDF file",
       [](const TempDir& dir, Run& r) { r.input = dir.file("source.nc"); write_bytes(r.input, "", 0); }},
      {"input-truncated", 2, "source.nc",
       [](const TempDir& dir, Run& r) {
         r.input = dir.file("source.nc");
         write_bytes(r.input, fixture("source_tiny.nc"), 2000000);
       }},
      {"input-fifo", 2, "not a regular file",
       [](const TempDir& dir, Run& r) {
         r.input = dir.file("source.nc");
         REQUIRE(::mkfifo(r.input.c_str(), 0600) == 0);
       }},
      {"input-grib-truncated", 2, "era5.grib",
       grib_case([](std::string& b) { b.resize(b.size() * 3 / 5); })},
      {"input-grib-no-end-marker", 2, "era5.grib",
       grib_case([](std::string& b) {
         const size_t end = b.find("7777");  // the first message's end section
         REQUIRE(end != std::string::npos);
         b[end + 3] = 'X';
       })},
      {"input-grib-with-netcdf", 2, "source_tiny.nc",
       [](const TempDir& dir, Run& r) {
         grib_case([](std::string&) {})(dir, r);
         r.more_inputs = {fixture("source_tiny.nc")};
       }},
      {"input-library-crash", 2, "the NetCDF/HDF5 library crashed reading it",
       [](const TempDir&, Run& r) { r.env = "GENCAST_PROBE_SELFTEST=crash "; }},
      {"input-library-hang", 2, "the NetCDF/HDF5 library hung reading it",
       [](const TempDir&, Run& r) { r.env = "GENCAST_PROBE_SELFTEST=hang GENCAST_PROBE_TIMEOUT=1 "; }},
      // ---- output ----
      {"output-missing-folder", 2, "no folder",
       [](const TempDir& dir, Run& r) { r.output = dir.file("absent/forecast.nc"); }},
      {"output-is-a-folder", 2, "a folder",
       [](const TempDir&, Run& r) { r.output = fs::path(r.output).parent_path().string(); }},
      {"output-is-the-input", 2, "none of the run's inputs",
       [](const TempDir& dir, Run& r) {
         r.input = dir.file("out/source.nc");
         fs::copy_file(fixture("source_tiny.nc"), r.input);
         r.output = r.input;
         r.flags = "--overwrite";
       }},
      {"output-is-the-checkpoint", 2, "none of the run's inputs",
       [](const TempDir&, Run& r) { r.output = r.checkpoint; r.flags = "--overwrite"; }},
      {"output-exists", 2, "--overwrite",
       [](const TempDir&, Run& r) { std::ofstream(r.output) << "an earlier forecast"; }},
      {"output-name-too-long", 2, "File name too long",
       [](const TempDir& dir, Run& r) { r.output = dir.file("out/" + std::string(300, 'f') + ".nc"); }},
      {"output-name-too-long-with-suffix", 2, "File name too long",
       [](const TempDir& dir, Run& r) { r.output = dir.file("out/" + std::string(240, 'f') + ".nc"); }},
  };
}

// Every file a run reads, with its hash.
std::map<std::string, uint64_t> input_hashes(const Run& r) {
  std::map<std::string, uint64_t> out;
  std::vector<std::string> files = {r.checkpoint, r.input, r.spec};
  files.insert(files.end(), r.more_inputs.begin(), r.more_inputs.end());
  for (const std::string& p : files) {
    std::error_code ec;
    if (!p.empty() && fs::is_regular_file(p, ec)) out[p] = file_hash(p);
  }
  for (const auto& [name, hash] : folder_snapshot(r.stats_dir)) out[r.stats_dir + "/" + name] = hash;
  return out;
}

std::string command_line(const std::string& command, const Run& r) {
  std::string cmd = r.env + shell_quote(GENCAST_RUN_BINARY) + " " + command;
  if (!r.spec.empty()) cmd += " " + shell_quote(r.spec);
  if (r.path_flags)
    cmd += " --checkpoint " + shell_quote(r.checkpoint) + " --stats-dir " + shell_quote(r.stats_dir) +
           " --input " + shell_quote(r.input) + " --output " + shell_quote(r.output) +
           " --device cpu --steps 1 --members 1";
  for (const auto& more : r.more_inputs) cmd += " --input " + shell_quote(more);
  return cmd + " " + r.flags;
}

// Runs `command` for the case and checks the four promises.
void check_case(const Case& c, const std::string& command, Run r, const std::string& out_dir) {
  INFO(c.id << ": " << command);
  const auto inputs_before = input_hashes(r);
  const auto outputs_before = folder_snapshot(out_dir);
  const CliResult res = run_shell(command_line(command, r));
  INFO(res.all());
  CHECK(res.exit_code == c.exit_code);
  CHECK(res.all().find(c.message) != std::string::npos);
  CHECK(folder_snapshot(out_dir) == outputs_before);  // nothing new, nothing changed
  CHECK(input_hashes(r) == inputs_before);
}

void run_cases(const std::string& prefix) {
  int ran = 0;
  for (const Case& c : cases()) {
    if (std::string(c.id).rfind(prefix, 0) != 0) continue;
    TempDir dir;
    const std::string out_dir = dir.file("out");
    fs::create_directories(out_dir);
    Run r;
    r.output = out_dir + "/forecast.nc";
    c.prepare(dir, r);
    if (r.check_config) check_case(c, "check-config", r, out_dir);
    if (r.forecast) check_case(c, "forecast", r, out_dir);
    ++ran;
  }
  CHECK(ran > 0);
}

// The ids of the catalogue's other rows (their own test cases below).
const std::vector<std::string> kSpecialIds = {
    "output-read-only-folder", "disk-full-file-size-limit", "disk-full-tmpfs",
    "signal-during-probe",     "sigint-while-stepping",     "sigterm-while-stepping",
    "sighup-while-stepping",   "sigquit-while-stepping"};
// Rows whose test lives in another file: id, that file, the test's name (the
// output lock is the resume work's). The check below finds the test there.
struct TestedElsewhere {
  std::string id, file, test;
};
const std::vector<TestedElsewhere> kTestedElsewhere = {
    {"output-same-path-two-runs", "tests/cli/test_cli_resume.cpp",
     "resume: a second run to the same output is refused while the first runs"}};

std::string tiny_flags(const std::string& output) {
  return "--checkpoint " + shell_quote(fixture("tiny_checkpoint.npz")) + " --stats-dir " +
         shell_quote(kFixtureDir) + " --input " + shell_quote(fixture("source_tiny.nc")) +
         " --output " + shell_quote(output) + " --device cpu";
}

}  // namespace

TEST_CASE("bad inputs: run specs", "[cli][bad-inputs]") { run_cases("spec-"); }
TEST_CASE("bad inputs: checkpoints", "[cli][bad-inputs]") { run_cases("ckpt-"); }
TEST_CASE("bad inputs: statistics", "[cli][bad-inputs]") { run_cases("stats-"); }
TEST_CASE("bad inputs: input files", "[cli][bad-inputs]") { run_cases("input-"); }
TEST_CASE("bad inputs: output paths", "[cli][bad-inputs]") { run_cases("output-"); }

TEST_CASE("bad inputs: docs/bad-inputs.md lists exactly the catalogue's cases",
          "[cli][bad-inputs]") {
  std::ifstream in(std::string(GENCAST_SOURCE_DIR) + "/docs/bad-inputs.md");
  REQUIRE(in);
  std::set<std::string> documented;
  std::string line;
  while (std::getline(in, line)) {
    // The catalogue is the first table: "| `id` | ..." rows, up to the next section.
    if (line.rfind("## ", 0) == 0 && !documented.empty()) break;
    if (line.rfind("| `", 0) != 0) continue;
    const size_t end = line.find('`', 3);
    documented.insert(line.substr(3, end - 3));
  }
  std::set<std::string> tested(kSpecialIds.begin(), kSpecialIds.end());
  for (const Case& c : cases()) tested.insert(c.id);
  CHECK(tested.size() >= 40);
  for (const TestedElsewhere& t : kTestedElsewhere) {
    INFO(t.id << " is tested by \"" << t.test << "\" in " << t.file);
    std::ifstream test_file(std::string(GENCAST_SOURCE_DIR) + "/" + t.file);
    const std::string text((std::istreambuf_iterator<char>(test_file)), std::istreambuf_iterator<char>());
    CHECK(text.find("TEST_CASE(\"" + t.test + "\"") != std::string::npos);
    tested.insert(t.id);
  }
  for (const auto& id : tested) {
    INFO("not in docs/bad-inputs.md: " << id);
    CHECK(documented.count(id) == 1);
  }
  for (const auto& id : documented) {
    INFO("documented but not tested: " << id);
    CHECK(tested.count(id) == 1);
  }
}

TEST_CASE("bad inputs: an output folder without write permission", "[cli][bad-inputs]") {
  TempDir dir;
  const std::string out_dir = dir.file("out");
  fs::create_directories(out_dir);
  REQUIRE(::chmod(out_dir.c_str(), 0555) == 0);
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  // root may write anywhere: run as nobody (setpriv, util-linux) when root.
  std::string as_user;
  if (::geteuid() == 0) {
    if (std::system("command -v setpriv >/dev/null") != 0) {
      WARN("SKIP: running as root without setpriv; the permission case cannot be shown");
      return;
    }
    as_user = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  }
  for (const char* command : {"check-config", "forecast"}) {
    INFO(command);
    const CliResult r = run_shell(as_user + shell_quote(GENCAST_RUN_BINARY) + " " + command + " " +
                                  tiny_flags(out_dir + "/forecast.nc") + " --steps 1 --members 1");
    INFO(r.all());
    CHECK(r.exit_code == 2);
    CHECK(r.all().find("Permission denied") != std::string::npos);
    CHECK(folder_snapshot(out_dir).empty());
  }
  ::chmod(out_dir.c_str(), 0755);
}

TEST_CASE("bad inputs: a full disk, as a file-size limit (EFBIG): exit 1, no file left",
          "[cli][bad-inputs][disk-full]") {
  TempDir dir;
  const std::string out = dir.file("forecast.nc");
  // SIGXFSZ ignored, so write() fails with EFBIG as on a full disk (and the
  // limit applies to this command only). 100 blocks: the file needs more.
  const CliResult r = run_shell("trap '' XFSZ; ulimit -f 100; exec " + shell_quote(GENCAST_RUN_BINARY) +
                                " forecast " + tiny_flags(out) +
                                " --steps 2 --members 2 --compression 0");
  INFO(r.all());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("ulimit -f") != std::string::npos);
  CHECK(dir.entries().empty());
}

TEST_CASE("bad inputs: a full disk, as a small tmpfs: exit 1, no file left, no HDF5 crash",
          "[cli][bad-inputs][disk-full]") {
  TempDir dir;
  const std::string mnt = dir.file("full");
  fs::create_directories(mnt);
  if (::geteuid() != 0 ||
      std::system(("mount -t tmpfs -o size=200k tmpfs " + shell_quote(mnt) + " 2>/dev/null").c_str()) != 0) {
    WARN("SKIP: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN); the file-size-limit case covers a full disk");
    return;
  }
  const CliResult r = run_gencast("forecast " + tiny_flags(mnt + "/forecast.nc") +
                                  " --steps 2 --members 2 --compression 0");
  const auto left = folder_snapshot(mnt);
  std::system(("umount " + shell_quote(mnt)).c_str());
  INFO(r.all());
  CHECK(r.exit_code == 1);  // was 139: HDF5's exit cleanup crashed after the failed close
  CHECK(r.err.find("is the disk full?") != std::string::npos);
  CHECK(left.empty());
}

namespace {

// True when a process runs the file probe's child on `path` (argv[1] is the
// probe command, and `path` one of its arguments).
bool probe_child_running(const std::string& path) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::vector<std::string> args;
    std::string arg;
    while (std::getline(in, arg, '\0')) args.push_back(arg);
    if (args.size() > 2 && args[1] == "__probe-files" &&
        std::find(args.begin(), args.end(), path) != args.end())
      return true;
  }
  return false;
}

// Starts a forecast in the background, waits until `ready` appears in its log
// (up to 60 s), sends `sig`, and returns the log with "rc=<exit code>" appended.
std::string interrupt_run(const TempDir& dir, const std::string& env, const std::string& flags,
                          const std::string& ready, const std::string& sig) {
  const std::string log = dir.file("log.txt");
  const std::string script = env + shell_quote(GENCAST_RUN_BINARY) + " forecast " + flags + " > " +
                             shell_quote(log) + " 2>&1 & pid=$!; for i in $(seq 600); do grep -q " +
                             shell_quote(ready) + " " + shell_quote(log) +
                             " && break; sleep 0.1; done; kill -" + sig +
                             " $pid; wait $pid; echo rc=$? >> " + shell_quote(log);
  REQUIRE(std::system(("sh -c " + shell_quote(script)).c_str()) == 0);
  std::ifstream in(log);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("bad inputs: a signal while the input is being probed stops the run cleanly",
          "[cli][bad-inputs][signals]") {
  TempDir dir;
  const std::string out = dir.file("out/forecast.nc");
  fs::create_directories(dir.file("out"));
  // An input of its own, so that its probe child can be told from others'.
  const std::string input = dir.file("source-" + std::to_string(::getpid()) + ".nc");
  fs::copy_file(fixture("source_tiny.nc"), input);
  // The probe hangs (test hook), so the run is waiting for it when SIGTERM
  // comes (the checkpoint is loaded first: "loaded" in the debug log).
  const std::string flags = replace(tiny_flags(out), shell_quote(fixture("source_tiny.nc")),
                                    shell_quote(input));
  // (A long probe limit: the default one of a small file is ~10 s.)
  const std::string text = interrupt_run(dir, "GENCAST_PROBE_SELFTEST=hang GENCAST_PROBE_TIMEOUT=300 ",
                                         flags + " --steps 1 --members 1 --log-level debug",
                                         "loaded", "TERM");
  INFO(text);
  CHECK(text.find("rc=1") != std::string::npos);
  CHECK(text.find("interrupted by SIGTERM") != std::string::npos);
  CHECK(folder_snapshot(dir.file("out")).empty());
  // The hanging child was stopped with its parent.
  CHECK_FALSE(probe_child_running(input));
}

TEST_CASE("bad inputs: SIGINT, SIGTERM, SIGHUP, SIGQUIT while stepping stop cleanly",
          "[cli][bad-inputs][signals]") {
  for (const char* sig : {"INT", "TERM", "HUP", "QUIT"}) {
    INFO(sig);
    TempDir dir;
    const std::string out = dir.file("out/forecast.nc");
    fs::create_directories(dir.file("out"));
    const auto inputs_before = folder_snapshot(kFixtureDir);
    const std::string text =
        interrupt_run(dir, "", tiny_flags(out) + " --steps 400 --members 1", "step 1/", sig);
    INFO(text);
    CHECK(text.find("rc=1") != std::string::npos);
    CHECK(text.find(std::string("interrupted by SIG") + sig) != std::string::npos);
    // No final output; what is left is the resumable partial (issue 12's
    // contract: a stopped run keeps its saved steps for --resume) and its lock.
    CHECK(text.find("rerun with --resume") != std::string::npos);
    for (const auto& [name, hash] : folder_snapshot(dir.file("out"))) {
      INFO(name);
      CHECK((name.rfind("forecast.nc.partial", 0) == 0 || name == "forecast.nc.lock"));
    }
    CHECK(folder_snapshot(kFixtureDir) == inputs_before);
  }
}
