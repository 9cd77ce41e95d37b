// Resuming killed forecasts end to end on the tiny fixture model (CPU):
// kill -9 at seeded random points then --resume gives the uninterrupted
// run's values bit for bit (batch 1 with two workers, and batch 2); SIGTERM
// keeps a resumable partial output and says so; a partial output of another
// run (seed, checkpoint, members) is refused naming what differs; a stale
// partial is reported by forecast and check-config; a second run to the same
// output is refused while the first runs.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "io/forecast_reader.h"
#include "test_temp_dir.h"

using namespace gencast;
using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) {
  return std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/" + name;
}

// configs/tiny.yaml, whose output.overwrite is false (the built-in demo spec
// sets it, and so would discard every partial output).
std::string tiny_spec() { return shell_quote(std::string(GENCAST_SOURCE_DIR) + "/configs/tiny.yaml") + " "; }

std::string fixture_flags(const std::string& output,
                          const std::string& checkpoint = fixture("tiny_checkpoint.npz")) {
  return "--checkpoint " + shell_quote(checkpoint) + " --stats-dir " +
         shell_quote(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny") + " --input " +
         shell_quote(fixture("source_tiny.nc")) + " --output " + shell_quote(output) +
         " --device cpu";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Starts `gencast-run args` in the background, waits until its log holds
// `wait_for` (up to 60 s; "" = not at all), then `seconds` more, sends
// `signal` and waits for it. Returns the log, ending with "rc=<exit status>".
std::string run_and_signal(const std::string& args, const std::string& log, const std::string& wait_for,
                           double seconds, const std::string& signal) {
  char delay[32];
  std::snprintf(delay, sizeof delay, "%.3f", seconds);
  std::string script = std::string(GENCAST_RUN_BINARY) + " " + args + " > " + shell_quote(log) +
                       " 2>&1 & pid=$!; ";
  if (!wait_for.empty())
    script += "for i in $(seq 600); do grep -q " + shell_quote(wait_for) + " " + shell_quote(log) +
              " 2>/dev/null && break; sleep 0.1; done; ";
  script += std::string("sleep ") + delay + "; kill -" + signal + " $pid 2>/dev/null; wait $pid; echo rc=$? >> " +
            shell_quote(log);
  const std::string cmd = "sh -c " + shell_quote(script);
  REQUIRE(std::system(cmd.c_str()) == 0);
  return read_text(log);
}

// Every data variable of two forecast files, bit for bit (NaN included).
bool same_values(const std::string& a, const std::string& b) {
  const ForecastReader ra(a), rb(b);
  const ForecastOutputSpec& s = ra.info().spec;
  const ForecastOutputSpec& t = rb.info().spec;
  if (s.member_ids != t.member_ids || s.lead_hours != t.lead_hours || s.channels.size() != t.channels.size())
    return false;
  const size_t n = s.lat.size() * s.lon.size() * s.channels.size();
  std::vector<float> x(n), y(n);
  for (int m = 0; m < static_cast<int>(s.member_ids.size()); ++m)
    for (int l = 0; l < static_cast<int>(s.lead_hours.size()); ++l) {
      ra.read_step(m, l, x.data());
      rb.read_step(m, l, y.data());
      if (std::memcmp(x.data(), y.data(), n * sizeof(float)) != 0) return false;
    }
  return true;
}

// The saved count a resumed run reports ("N of M member-steps saved"), -1 if none.
int saved_on_resume(const std::string& log) {
  std::smatch m;
  static const std::regex re("resuming .* ([0-9]+) of ([0-9]+) member-steps saved");
  return std::regex_search(log, m, re) ? std::stoi(m[1]) : -1;
}

// A forecast is killed with SIGKILL at four seeded random moments (each run
// -- the first and the resumed ones -- at a random point of its work), then
// resumed to the end; its values equal the uninterrupted run's.
void check_kill_and_resume(const std::string& run_flags, unsigned seed) {
  TempDir dir;
  const std::string ref = dir.file("ref.nc"), out = dir.file("f.nc");
  const auto t0 = std::chrono::steady_clock::now();
  const CliResult whole = run_gencast("forecast " + tiny_spec() + run_flags + " " + fixture_flags(ref));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(whole.all());
  REQUIRE(whole.exit_code == 0);

  std::mt19937 rng(seed);
  // Each run (fresh or resumed) is killed early enough that the four kills
  // fall within the whole run's work: a resumed run has less of it left.
  std::uniform_real_distribution<double> when(0.08, 0.33);
  int killed = 0, continued = 0;
  for (int k = 0; k < 4; ++k) {
    const double delay = when(rng) * seconds;
    const std::string log = run_and_signal("forecast " + tiny_spec() + run_flags + " --resume " + fixture_flags(out),
                                           dir.file("log" + std::to_string(k) + ".txt"), "", delay, "KILL");
    INFO("kill " << k << " after " << delay << " s:\n" << log);
    REQUIRE((log.find("rc=137") != std::string::npos || log.find("rc=0") != std::string::npos));
    if (log.find("rc=137") != std::string::npos) ++killed;
    const int saved = saved_on_resume(log);
    if (saved > 0) ++continued;
  }
  const CliResult last = run_gencast("forecast " + tiny_spec() + run_flags + " --resume " + fixture_flags(out));
  INFO(last.all());
  REQUIRE(last.exit_code == 0);
  if (saved_on_resume(last.err) > 0) ++continued;
  // Not vacuous: runs were killed, and resumed runs continued saved work.
  CHECK(killed >= 3);
  CHECK(continued >= 1);
  CHECK(same_values(ref, out));
  // Nothing else is left: no partial, journal, state or lock.
  for (const auto& name : dir.entries())
    CHECK((name == "ref.nc" || name == "f.nc" || name.rfind("log", 0) == 0));

  // --resume on the finished output: nothing to do, file untouched.
  const auto mtime = fs::last_write_time(out);
  const CliResult again = run_gencast("forecast " + tiny_spec() + run_flags + " --resume " + fixture_flags(out));
  INFO(again.all());
  CHECK(again.exit_code == 0);
  CHECK(again.err.find("complete already") != std::string::npos);
  CHECK(fs::last_write_time(out) == mtime);
  // ...but the finished output of another run is not this run's.
  const std::string other_seed = std::regex_replace(run_flags, std::regex("--seed [0-9]+"), "--seed 99");
  const CliResult other = run_gencast("forecast " + tiny_spec() + other_seed + " --resume " + fixture_flags(out));
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("seed: ") != std::string::npos);
}

// A zip comment changes the checkpoint file (and its digest), not its contents.
std::string changed_checkpoint(const TempDir& dir) {
  std::string bytes = read_text(fixture("tiny_checkpoint.npz"));
  REQUIRE(bytes.size() > 22);
  REQUIRE(bytes.compare(bytes.size() - 22, 4, "PK\x05\x06") == 0);
  REQUIRE(bytes.substr(bytes.size() - 2) == std::string(2, '\0'));
  bytes[bytes.size() - 2] = 4;
  bytes += "edit";
  const std::string path = dir.file("changed.npz");
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace

TEST_CASE("resume: kill -9 at random points, then --resume, equals the uninterrupted run",
          "[cli][resume]") {
  // Two workers, one member per call: several members in flight at each kill.
  check_kill_and_resume("--steps 10 --members 4 --seed 7 --batch 1 --devices cpu,cpu", 20240501);
}

TEST_CASE("resume: batched groups resume at their slowest member and equal the uninterrupted run",
          "[cli][resume][batch]") {
  // Groups {0,1} and {2 + padding}.
  check_kill_and_resume("--steps 8 --members 3 --seed 3 --batch 2", 777);
}

TEST_CASE("resume: a group whose members stopped at different steps restarts at the earliest",
          "[cli][resume][batch]") {
  // Members of a group are recorded one after the other, so a kill can fall
  // between them; made certain here by dropping member 1's last record from
  // the journal of a partial output stopped mid-run. Once with every variable
  // (members continue from the partial file), once with a subset and once
  // lossy (both from the state sidecar).
  for (const std::string variables :
       {"", " --variables 2m_temperature,temperature", " --keep-bits 10"}) {
    INFO("variables:" << variables);
    TempDir dir;
    const std::string flags = "--steps 4 --members 3 --seed 3 --batch 2" + variables;
    const std::string ref = dir.file("ref.nc"), out = dir.file("f.nc");
    REQUIRE(run_gencast("forecast " + tiny_spec() + flags + " " + fixture_flags(ref)).exit_code == 0);
    const std::string log = run_and_signal("forecast " + tiny_spec() + flags + " " + fixture_flags(out),
                                           dir.file("log.txt"), "step 2/", 0, "TERM");
    INFO(log);
    REQUIRE(log.find("rerun with --resume") != std::string::npos);
    CHECK(fs::exists(out + ".partial.state") == !variables.empty());
    const std::string journal = read_text(out + ".partial.journal");
    const size_t last = journal.rfind("\nstep 1 ");
    REQUIRE(last != std::string::npos);
    const size_t end = journal.find('\n', last + 1);
    std::ofstream(out + ".partial.journal", std::ios::binary | std::ios::trunc)
        << journal.substr(0, last + 1) + journal.substr(end + 1);
    const CliResult resumed = run_gencast("forecast " + tiny_spec() + flags + " --resume " + fixture_flags(out));
    INFO(resumed.all());
    REQUIRE(resumed.exit_code == 0);
    CHECK(resumed.err.find("1 of them saved already") != std::string::npos);
    CHECK(same_values(ref, out));
    for (const auto& name : dir.entries())
      CHECK((name == "ref.nc" || name == "f.nc" || name == "log.txt"));
  }
}

TEST_CASE("resume: SIGTERM keeps a resumable partial, and other runs' partials are refused by name",
          "[cli][resume][signals]") {
  TempDir dir;
  const std::string out = dir.file("f.nc");
  // (Each flag once per command: CLI11 refuses repeated flags.)
  const std::string run = "forecast " + tiny_spec() + "--steps 400 --members 1 ";
  const std::string log =
      run_and_signal(run + "--seed 7 " + fixture_flags(out), dir.file("log.txt"), "step 2/", 0, "TERM");
  INFO(log);
  CHECK(log.find("rc=1") != std::string::npos);
  CHECK(log.find("interrupted by SIGTERM: rerun with --resume to continue") != std::string::npos);
  CHECK(std::regex_search(log, std::regex("[0-9]+ of 400 member-steps are saved in .*f\\.nc\\.partial")));
  CHECK(fs::exists(out + ".partial"));
  CHECK(fs::exists(out + ".partial.journal"));
  CHECK(!fs::exists(out));
  CHECK(!fs::exists(out + ".lock"));

  // Neither --resume nor --overwrite: the stale partial is reported, both offered.
  CliResult r = run_gencast(run + "--seed 7 " + fixture_flags(out));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("f.nc.partial") != std::string::npos);
  CHECK(r.err.find("member-steps saved") != std::string::npos);
  CHECK(r.err.find("--resume") != std::string::npos);
  CHECK(r.err.find("--overwrite") != std::string::npos);
  r = run_gencast("check-config " + tiny_spec() + fixture_flags(out) + " --steps 400 --members 1 --seed 7");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("f.nc.partial") != std::string::npos);
  r = run_gencast("check-config " + tiny_spec() + "--resume " + fixture_flags(out) + " --steps 400 --members 1 --seed 7");
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("continues") != std::string::npos);

  // Another run's partial: refused with exit 2 naming the setting, kept.
  r = run_gencast(run + "--resume --seed 8 " + fixture_flags(out));
  INFO(r.all());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("seed: 7 vs 8") != std::string::npos);
  r = run_gencast(run + "--seed 7 --resume " + fixture_flags(out, changed_checkpoint(dir)));
  INFO(r.all());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("checkpoint: ") != std::string::npos);
  r = run_gencast("forecast " + tiny_spec() + "--steps 400 --members 2 --seed 7 --resume " + fixture_flags(out));
  INFO(r.all());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("members: 0 vs 0,1") != std::string::npos);
  CHECK(fs::exists(out + ".partial"));
  CHECK(fs::exists(out + ".partial.journal"));

  // --overwrite discards it and starts over (stopped again here).
  const std::string again =
      run_and_signal(run + "--seed 7 --overwrite " + fixture_flags(out), dir.file("log2.txt"), "step 1/", 0, "TERM");
  INFO(again);
  CHECK(again.find("discarding") != std::string::npos);
  CHECK(again.find("rc=1") != std::string::npos);
}

TEST_CASE("resume: a second run to the same output is refused while the first runs",
          "[cli][resume][lock]") {
  TempDir dir;
  const std::string out = dir.file("f.nc"), log = dir.file("log.txt");
  const std::string first = std::string(GENCAST_RUN_BINARY) + " forecast " + tiny_spec() + "--steps 400 --members 1 " +
                            fixture_flags(out) + " > " + shell_quote(log) + " 2>&1 & echo $! > " +
                            shell_quote(dir.file("pid"));
  REQUIRE(std::system(("sh -c " + shell_quote(first)).c_str()) == 0);
  std::string text;
  for (int i = 0; i < 600 && text.find("step 1/") == std::string::npos; ++i) {
    std::system("sleep 0.1");
    text = read_text(log);
  }
  const std::string pid = [&] {
    std::string p = read_text(dir.file("pid"));
    while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.pop_back();
    return p;
  }();
  const CliResult second =
      run_gencast("forecast " + tiny_spec() + "--steps 400 --members 1 --overwrite " + fixture_flags(out));
  const CliResult check = run_gencast("check-config " + tiny_spec() + fixture_flags(out));
  std::system(("kill -TERM " + pid + "; while kill -0 " + pid + " 2>/dev/null; do sleep 0.1; done").c_str());
  INFO(second.all());
  CHECK(second.exit_code == 2);
  CHECK(second.err.find("being written by PID " + pid) != std::string::npos);
  INFO(check.all());
  CHECK(check.exit_code == 2);
  CHECK(check.err.find("being written by PID " + pid) != std::string::npos);
  // The first run was not disturbed: it saved its steps and says so.
  const std::string first_log = read_text(log);
  INFO(first_log);
  CHECK(first_log.find("rerun with --resume") != std::string::npos);
}
