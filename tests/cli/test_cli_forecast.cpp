// `gencast-run forecast` and `check-config` end to end on the tiny fixture
// model (CPU): the demo, exit codes and messages for malformed inputs (and no
// output file left behind), member independence, JSON progress.
#include <catch2/catch.hpp>
#include <netcdf.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "io/forecast_reader.h"
#include "model/checkpoint.h"
#include "model/random_checkpoint.h"
#include "runtime/run_fingerprint.h"
#include "unit/test_input_files.h"

using namespace gencast;
using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) {
  return std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/" + name;
}

// Flags pointing at the fixture model, stats and a given input file.
std::string fixture_flags(const std::string& input, const std::string& output) {
  return "--checkpoint " + shell_quote(fixture("tiny_checkpoint.npz")) + " --stats-dir " +
         shell_quote(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny") + " --input " +
         shell_quote(input) + " --output " + shell_quote(output) + " --device cpu";
}

bool only_file_is(const fs::path& dir, const std::string& name) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != name) return false;
  return true;
}

bool folder_has_no_netcdf(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.find(".nc") != std::string::npos && n.rfind("input", 0) != 0) return false;
  }
  return true;
}

// 2m_temperature of the file as floats, dims (sample, batch, time, lat, lon).
std::vector<float> read_t2m(const std::string& path, size_t& members) {
  int nc = -1;
  REQUIRE(nc_open(path.c_str(), NC_NOWRITE, &nc) == NC_NOERR);
  int var = -1;
  REQUIRE(nc_inq_varid(nc, "2m_temperature", &var) == NC_NOERR);
  int ndims = 0;
  nc_inq_varndims(nc, var, &ndims);
  std::vector<int> dimids(static_cast<size_t>(ndims));
  nc_inq_vardimid(nc, var, dimids.data());
  size_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    size_t len = 0;
    nc_inq_dimlen(nc, dimids[static_cast<size_t>(i)], &len);
    if (i == 0) members = len;
    total *= len;
  }
  std::vector<float> v(total);
  REQUIRE(nc_get_var_float(nc, var, v.data()) == NC_NOERR);
  nc_close(nc);
  return v;
}

}  // namespace

TEST_CASE("the demo forecast writes a finished file and nothing else", "[cli][forecast]") {
  TempDir dir;
  const CliResult r = run_gencast("forecast", dir.path().string());
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(dir.path() / "gencast-demo-forecast.nc"));
  CHECK(only_file_is(dir.path(), "gencast-demo-forecast.nc"));
  CHECK(r.err.find("step 2/2") != std::string::npos);  // progress lines
}

TEST_CASE("check-config accepts the fixture files and names a renamed input variable",
          "[cli][check-config]") {
  TempDir dir;
  const std::string out = dir.file("f.nc");
  CliResult ok = run_gencast("check-config " + fixture_flags(fixture("source_tiny.nc"), out));
  INFO(ok.all());
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("check-config: OK") != std::string::npos);

  TestNcFile src = TestNcFile::load(fixture("source_tiny.nc"));
  src.var("2m_temperature").name = "t2m";
  const std::string renamed = dir.file("input_renamed.nc");
  src.write(renamed);
  CliResult bad = run_gencast("check-config " + fixture_flags(renamed, out));
  INFO(bad.all());
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("2m_temperature") != std::string::npos);
  CHECK(!fs::exists(out));

  // forecast --check-config is the same check.
  CliResult same = run_gencast("forecast --check-config " + fixture_flags(renamed, out));
  CHECK(same.exit_code == 2);
  CHECK(same.err.find("2m_temperature") != std::string::npos);
}

TEST_CASE("malformed inputs: exit 2, a message naming the variable, no output file",
          "[cli][forecast]") {
  TempDir dir;
  const std::string out = dir.file("forecast.nc");
  struct Case {
    const char* name;
    std::string expect;  // text the message must contain
    void (*edit)(TestNcFile&);
  };
  const Case cases[] = {
      {"missing input variable", "specific_humidity",
       [](TestNcFile& f) { f.remove_var("specific_humidity"); }},
      {"wrong level set", "level",
       [](TestNcFile& f) {
         std::vector<size_t> keep;
         for (size_t i = 0; i + 1 < f.dim_size("level"); ++i) keep.push_back(i);  // drop 1000 hPa
         f.select_along("level", keep);
       }},
      {"non-monotonic latitude", "lat",
       [](TestNcFile& f) {
         std::vector<size_t> idx;
         for (size_t i = 0; i < f.dim_size("lat"); ++i) idx.push_back(i);
         std::swap(idx[3], idx[4]);
         f.select_along("lat", idx);
       }},
      {"NaN outside SST", "temperature",
       [](TestNcFile& f) {  // in the init frame (the last one), which is read
         auto& v = f.var("temperature").values;
         v[v.size() - 123] = std::nan("");
       }},
      {"missing datetime", "datetime", [](TestNcFile& f) { f.remove_var("datetime"); }},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      TestNcFile src = TestNcFile::load(fixture("source_tiny.nc"));
      c.edit(src);
      const std::string input = dir.file("input_bad.nc");
      src.write(input);
      const CliResult r = run_gencast("forecast --steps 1 --members 1 " + fixture_flags(input, out));
      INFO(r.all());
      CHECK(r.exit_code == 2);
      CHECK(r.err.find("input_bad.nc") != std::string::npos);
      CHECK(r.err.find(c.expect) != std::string::npos);
      CHECK(folder_has_no_netcdf(dir.path()));
    }
  }
  SECTION("init time not in the file") {
    const CliResult r = run_gencast("forecast --init-time 2020-01-01T00:00 " +
                                    fixture_flags(fixture("source_tiny.nc"), out));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("2020-01-01") != std::string::npos);
    CHECK(folder_has_no_netcdf(dir.path()));
  }
  SECTION("nonexistent checkpoint and unwritable output folder") {
    CliResult r = run_gencast("forecast --checkpoint /nonexistent/ckpt.npz");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("/nonexistent/ckpt.npz") != std::string::npos);
    r = run_gencast("forecast " + fixture_flags(fixture("source_tiny.nc"), "/nonexistent/dir/f.nc"));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("/nonexistent/dir") != std::string::npos);
  }
}

TEST_CASE("a model that diverges: exit 1, the member and step named, no output file",
          "[cli][forecast]") {
  // The decoder's output bias near float's maximum (the loader refuses
  // non-finite weights): the predictions overflow to Inf.
  // The check runs beside the next step's computation (runtime/member_worker.h),
  // so this also covers an error raised there reaching the exit code.
  TempDir dir;
  Checkpoint ckpt = load_checkpoint(fixture("tiny_checkpoint.npz"));
  bool poisoned = false;
  ParamStore params;
  for (const auto& [name, a] : ckpt.params.arrays()) {
    ArrayF copy = a;
    if (name.find("decoder_nodes_grid_nodes_mlp/~/linear_1:b") != std::string::npos) {
      std::fill(copy.data.begin(), copy.data.end(), 3e38f);
      poisoned = true;
    }
    params.set(name, std::move(copy));
  }
  REQUIRE(poisoned);
  const std::string bad_ckpt = dir.file("diverging.npz"), out = dir.file("forecast.nc");
  write_checkpoint(bad_ckpt, ckpt.config, params);
  std::string flags = fixture_flags(fixture("source_tiny.nc"), out);
  const std::string good = shell_quote(fixture("tiny_checkpoint.npz"));
  flags.replace(flags.find(good), good.size(), shell_quote(bad_ckpt));
  const CliResult r = run_gencast("forecast --steps 3 --members 2 " + flags);
  INFO(r.all());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("diverged") != std::string::npos);
  CHECK(r.err.find("step 1 produced") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("member k is bit-identical whatever the ensemble size or subset",
          "[cli][forecast][ensemble]") {
  TempDir dir;
  const std::string all = dir.file("all.nc"), one = dir.file("one.nc");
  const std::string flags_all = fixture_flags(fixture("source_tiny.nc"), all);
  REQUIRE(run_gencast("forecast --steps 2 --members 3 --seed 7 " + flags_all).exit_code == 0);
  REQUIRE(run_gencast("forecast --steps 2 --member-ids 2 --seed 7 " +
                      fixture_flags(fixture("source_tiny.nc"), one))
              .exit_code == 0);
  size_t m_all = 0, m_one = 0;
  const std::vector<float> a = read_t2m(all, m_all), b = read_t2m(one, m_one);
  REQUIRE(m_all == 3);
  REQUIRE(m_one == 1);
  const size_t per_member = a.size() / 3;
  REQUIRE(b.size() == per_member);
  // Member 2 of the 3-member run equals the single-member run bit for bit...
  CHECK(std::equal(b.begin(), b.end(), a.begin() + 2 * per_member));
  // ...and members differ from each other (the noise streams are distinct).
  CHECK(!std::equal(a.begin(), a.begin() + per_member, a.begin() + per_member));
  // A different seed changes member 2.
  const std::string other = dir.file("other.nc");
  REQUIRE(run_gencast("forecast --steps 2 --member-ids 2 --seed 8 " +
                      fixture_flags(fixture("source_tiny.nc"), other))
              .exit_code == 0);
  size_t m_other = 0;
  const std::vector<float> c = read_t2m(other, m_other);
  CHECK(!std::equal(c.begin(), c.end(), b.begin()));
  // The run identity ignores the member selection and names the seed change.
  const ForecastFileInfo info_all = ForecastReader(all).info(), info_one = ForecastReader(one).info(),
                         info_other = ForecastReader(other).info();
  CHECK(info_all.spec.run_fingerprint.size() == 16);
  CHECK(info_all.spec.run_fingerprint == info_one.spec.run_fingerprint);
  CHECK(info_other.spec.run_fingerprint != info_one.spec.run_fingerprint);
  CHECK(identity_differences(info_one.spec.run_identity, info_other.spec.run_identity) ==
        std::vector<std::string>{"seed: 7 vs 8"});
}

TEST_CASE("several workers (cpu,cpu,cpu) give the one-worker run's values bit for bit",
          "[cli][forecast][ensemble]") {
  TempDir dir;
  const std::string one = dir.file("one.nc"), three = dir.file("three.nc");
  REQUIRE(run_gencast("forecast --steps 2 --members 5 --seed 11 " +
                      fixture_flags(fixture("source_tiny.nc"), one))
              .exit_code == 0);
  const CliResult r = run_gencast("forecast --steps 2 --members 5 --seed 11 " +
                                  fixture_flags(fixture("source_tiny.nc"), three) +
                                  " --devices cpu,cpu,cpu");
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("3 worker(s)") != std::string::npos);
  size_t m_one = 0, m_three = 0;
  const std::vector<float> a = read_t2m(one, m_one), b = read_t2m(three, m_three);
  REQUIRE(m_one == 5);
  REQUIRE(m_three == 5);
  CHECK(a == b);

  const CliResult plan = run_gencast("check-config " +
                                     fixture_flags(fixture("source_tiny.nc"), dir.file("x.nc")) +
                                     " --devices cpu,cpu");
  INFO(plan.all());
  CHECK(plan.exit_code == 0);
  CHECK(plan.out.find("2 workers") != std::string::npos);
  const CliResult bad = run_gencast("check-config " +
                                    fixture_flags(fixture("source_tiny.nc"), dir.file("x.nc")) +
                                    " --devices cpu,tpu");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--devices") != std::string::npos);
}

// Relative L2 distance over the finite values; inf when the NaN masks differ.
double relative_l2_finite(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(a[i]) != std::isfinite(b[i])) return INFINITY;
    if (!std::isfinite(a[i])) continue;
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

TEST_CASE("several members per denoiser call agree with one per call, padded groups included",
          "[cli][forecast][ensemble][batch]") {
  TempDir dir;
  auto run = [&](const std::string& name, const std::string& extra) {
    const std::string path = dir.file(name);
    const CliResult r = run_gencast("forecast --steps 2 --members 5 --seed 3 " +
                                    fixture_flags(fixture("source_tiny.nc"), path) + " " + extra);
    INFO(r.all());
    REQUIRE(r.exit_code == 0);
    size_t members = 0;
    std::vector<float> v = read_t2m(path, members);
    REQUIRE(members == 5);
    return v;
  };
  const std::vector<float> one = run("b1.nc", "--batch 1");
  const std::vector<float> two = run("b2.nc", "--batch 2");    // groups {0,1} {2,3} {4 + pad}
  const std::vector<float> five = run("b5.nc", "--batch 5");
  // The contract across batch sizes is the precision's verify tolerance (GPU
  // GEMMs may pick other kernels for other row counts)...
  CHECK(relative_l2_finite(two, one) <= 1e-5);
  CHECK(relative_l2_finite(five, one) <= 1e-5);
  // ...and the CPU reference, which computes each row, edge and
  // neighbourhood by the same operations whatever the batch, is bitwise.
  CHECK(two == one);
  CHECK(five == one);
  // At a fixed batch, which and how many workers ran a group never matters.
  const std::vector<float> two_workers = run("b2w2.nc", "--batch 2 --devices cpu,cpu");
  CHECK(two_workers == two);

  const CliResult plan = run_gencast("check-config " +
                                     fixture_flags(fixture("source_tiny.nc"), dir.file("x.nc")) +
                                     " --batch 3");
  INFO(plan.all());
  CHECK(plan.out.find("3 member(s) per denoiser call") != std::string::npos);
  const CliResult bad = run_gencast("check-config " +
                                    fixture_flags(fixture("source_tiny.nc"), dir.file("x.nc")) +
                                    " --batch 0");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--batch") != std::string::npos);
}

TEST_CASE("forecast with --log-format json prints one JSON object per progress line", "[cli][forecast]") {
  TempDir dir;
  const CliResult r = run_gencast("forecast --log-format json --steps 2 --members 1 " +
                                  fixture_flags(fixture("source_tiny.nc"), dir.file("f.nc")));
  REQUIRE(r.exit_code == 0);
  int steps = 0;
  std::istringstream lines(r.err);
  std::string line;
  while (std::getline(lines, line)) {
    INFO(line);
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');
    if (line.find("\"event\":\"step\"") != std::string::npos) ++steps;
  }
  CHECK(steps == 2);
}

TEST_CASE("SIGHUP, SIGQUIT and SIGTERM stop a forecast cleanly: exit 1, the partial kept for --resume",
          "[cli][forecast][signals]") {
  for (const char* sig : {"HUP", "QUIT", "TERM"}) {
    INFO(sig);
    TempDir dir;
    const std::string out = dir.file("f.nc"), log = dir.file("log.txt");
    // A long run (400 steps of the tiny model), stopped once it has started stepping
    // (the handlers are installed before the first step; waits up to 60 s for it).
    const std::string cmd = std::string("sh -c '") + GENCAST_RUN_BINARY + " forecast --steps 400 --members 1 " +
                            fixture_flags(fixture("source_tiny.nc"), out) + " > " + log +
                            " 2>&1 & pid=$!; for i in $(seq 600); do grep -q \"step 1/\" " + log +
                            " && break; sleep 0.1; done; kill -" + sig + " $pid; wait $pid; echo rc=$? >> " + log + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(text);
    CHECK(text.find("rc=1") != std::string::npos);
    CHECK(text.find(std::string("interrupted by SIG") + sig + ": rerun with --resume") !=
          std::string::npos);
    // The step reported before the signal is saved; no output, no lock left.
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"f.nc.partial", "f.nc.partial.journal", "log.txt"});
  }
}

TEST_CASE("an existing output is refused unless --overwrite, and left untouched",
          "[cli][forecast][safety]") {
  TempDir dir;
  const std::string out = dir.file("f.nc");
  { std::ofstream(out) << "keep me"; }
  // configs/tiny.yaml leaves output.overwrite at its default, false (the
  // built-in demo spec sets it: the demo replaces its own output).
  const std::string tiny_spec = shell_quote(std::string(GENCAST_SOURCE_DIR) + "/configs/tiny.yaml");
  const std::string flags = "forecast " + tiny_spec + " --steps 1 --members 1 " +
                            fixture_flags(fixture("source_tiny.nc"), out);
  CliResult r = run_gencast(flags);
  INFO(r.all());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--overwrite") != std::string::npos);
  {
    std::ifstream in(out);
    std::string text;
    std::getline(in, text);
    CHECK(text == "keep me");
  }
  CHECK(run_gencast("check-config " + tiny_spec + " " + fixture_flags(fixture("source_tiny.nc"), out))
            .exit_code == 2);
  r = run_gencast(flags + " --overwrite");
  CHECK(r.exit_code == 0);
  size_t members = 0;
  CHECK(read_t2m(out, members).size() > 0);
  CHECK(only_file_is(dir.path(), "f.nc"));
}

TEST_CASE("bench times several members per call", "[cli][bench][batch]") {
  const CliResult r = run_gencast("bench --model tiny --device cpu --batch 2 --calls 1 --steps 1 --json -");
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("\"batch\":2") != std::string::npos);
  CHECK(r.out.find("per member-step") != std::string::npos);
  CHECK(run_gencast("bench --model tiny --device cpu --batch 0").exit_code != 0);
}

TEST_CASE("global option --gemm-tuning: announced, reported by bench, off by default",
          "[cli][bench]") {
  // On the CPU it changes nothing (no cuBLASLt): bench reports it off there.
  for (const std::string& cmd :
       {std::string("--gemm-tuning bench --model tiny --device cpu --calls 1 --steps 0 --json -"),
        std::string("bench --model tiny --device cpu --calls 1 --steps 0 --json - --gemm-tuning")}) {
    const CliResult r = run_gencast(cmd);
    INFO(r.all());
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("GEMM tuning on") != std::string::npos);
    CHECK(r.out.find("\"gemm_tuning\":false") != std::string::npos);
  }
  const CliResult plain = run_gencast("bench --model tiny --device cpu --calls 1 --steps 0");
  INFO(plain.all());
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.all().find("GEMM tuning on") == std::string::npos);
  CHECK(plain.out.find("GEMM tuning off") != std::string::npos);
}

// The number after "key": in a one-line JSON object.
double json_number(const std::string& json, const std::string& key) {
  const std::string tag = "\"" + key + "\":";
  const size_t at = json.find(tag);
  REQUIRE(at != std::string::npos);
  return std::strtod(json.c_str() + at + tag.size(), nullptr);
}

TEST_CASE("bench --writer times the sink and reads its file back", "[cli][bench][writer]") {
  CliResult r = run_gencast("bench --writer --grid 4p0 --steps 3 --threads 2 --json -");
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(json_number(r.out, "steps") == 3);
  CHECK(json_number(r.out, "threads") == 2);
  CHECK(json_number(r.out, "fields_per_step") == 84);
  CHECK(json_number(r.out, "max_abs_error") == 0);  // lossless: every bit read back
  const double raw = 3 * json_number(r.out, "raw_bytes_per_step");
  const double stored = json_number(r.out, "stored_bytes");
  CHECK(stored > 0.3 * raw);  // synthetic fields are not trivially compressible...
  CHECK(stored < 0.9 * raw);  // ... but compress
  CHECK(json_number(r.out, "zlib_bytes_per_step") > 0);
  CHECK(r.out.rfind("summary: writer 4p0, 2 threads, compression 1") != std::string::npos);

  r = run_gencast("bench --writer --grid 4p0 --steps 1 --keep-bits 9 --json -");
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(json_number(r.out, "max_rel_error") > 0);
  CHECK(json_number(r.out, "max_rel_error") <= std::ldexp(1.0, -10));

  CHECK(run_gencast("bench --writer --grid 4p0 --threads 17").exit_code == 2);
  CHECK(run_gencast("bench --writer --grid 4p0 --keep-bits 24").exit_code == 2);
  CHECK(run_gencast("bench --model tiny --device cpu --threads 2").exit_code == 2);
}

TEST_CASE("forecast --keep-bits is checked like output.keep_bits", "[cli][forecast]") {
  TempDir dir;
  CliResult r = run_gencast("forecast --steps 1 --members 1 --keep-bits 0 " +
                            fixture_flags(fixture("source_tiny.nc"), dir.file("f.nc")));
  INFO(r.all());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--keep-bits") != std::string::npos);
  // BitRound is a NetCDF feature: GRIB output refuses it rather than ignore it.
  r = run_gencast("forecast --steps 1 --members 1 --keep-bits 12 " +
                  fixture_flags(fixture("source_tiny.nc"), dir.file("f.grib2")));
  INFO(r.all());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("output.keep_bits") != std::string::npos);
  CHECK(dir.entries().empty());
}

TEST_CASE("verify exits 0 on the shipped fixtures and 2 for a missing folder", "[cli][verify]") {
  CliResult r = run_gencast("verify " + shell_quote(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny"));
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("-> PASS") != std::string::npos);
  // Every case replayed as 3 members in one call: each copy must pass.
  r = run_gencast("verify " + shell_quote(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny") +
                  " --batch 3");
  INFO(r.all());
  CHECK(r.exit_code == 0);
  r = run_gencast("verify /nonexistent/fixtures");
  CHECK(r.exit_code == 2);
}
