// `mpirun -n 2 --oversubscribe gencast-run forecast` on the tiny model (CPU):
// the ranks' one file equals the one-process file bit for bit (members in
// whole batch groups, a padded group included); check-config shows each
// rank's share; a rank that fails — before the run (a missing device) or in
// the middle (SIGTERM to that rank alone) — ends every rank with a non-zero
// exit and leaves no output or part file. Skipped (GENCAST_SKIP) in builds
// without MPI; CI builds with it (scripts/setup.sh installs Open MPI).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/cli_runner.h"
#include "cli/tiny_forecast.h"
#include "io/forecast_reader.h"
#include "test_temp_dir.h"

using namespace gencast;
using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

#if GENCAST_WITH_MPI
const char* const kMpiexec = GENCAST_MPIEXEC;
#else
const char* const kMpiexec = "";
#endif

bool skip_without_mpi() {
  if (GENCAST_WITH_MPI) return false;
  WARN("GENCAST_SKIP: built without MPI (-DGENCAST_MPI=OFF or no libopenmpi-dev)");
  return true;
}

// CI runs as root; Open MPI refuses that unless told. A run that hangs (a
// broken failure protocol) is killed after 5 minutes, failing the test.
std::string mpirun(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout -k 10 300 " +
         shell_quote(kMpiexec) + " -n " + std::to_string(ranks) + " --oversubscribe ";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command, stdout and stderr into `log`; returns the exit code.
int run_shell(const std::string& command, const std::string& log) {
  const std::string cmd = "(" + command + ") > " + shell_quote(log) + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A per-rank script: rank R runs `gencast-run COMMAND` where $dev is cpu,
// or `rank1_device` on rank 1; logs to log.R, its pid in pid.R and its exit
// code in rc.R.
std::string write_rank_script(const TempDir& dir, const std::string& command,
                              const std::string& rank1_device) {
  const std::string script = dir.file("rank.sh");
  std::ofstream out(script);
  out << "r=$OMPI_COMM_WORLD_RANK\n"
      << "dev=cpu\n"
      << "[ \"$r\" = 1 ] && dev=" << shell_quote(rank1_device) << "\n"
      << shell_quote(GENCAST_RUN_BINARY) << " " << command << " > "
      << shell_quote(dir.file("log.")) << "$r 2>&1 &\n"
      << "echo $! > " << shell_quote(dir.file("pid.")) << "$r\n"
      << "wait $!\n"
      << "echo $? > " << shell_quote(dir.file("rc.")) << "$r\n";
  return script;
}

bool no_forecast_files(const TempDir& dir) {
  for (const auto& e : dir.entries())
    if (e.find(".nc") != std::string::npos) return false;
  return true;
}

}  // namespace

TEST_CASE("mpirun -n 2: one file, bit for bit the one-process forecast", "[cli][mpi]") {
  if (skip_without_mpi()) return;
  TempDir dir;
  const std::string one = dir.file("one.nc"), ranks = dir.file("ranks.nc"), log = dir.file("log");
  // 5 members in groups of 2: rank 0 runs {0,1}, rank 1 {2,3} and {4 + padding}.
  const std::string run = "--steps 2 --members 5 --batch 2 --seed 9 ";
  const CliResult r1 = run_gencast("forecast " + run + tiny_flags(one));
  INFO(r1.all());
  REQUIRE(r1.exit_code == 0);
  const int rc = run_shell(mpirun(2) + shell_quote(GENCAST_RUN_BINARY) + " forecast " + run +
                               tiny_flags(ranks),
                           log);
  const std::string text = slurp(log);
  INFO(text);
  REQUIRE(rc == 0);
  CHECK(text.find("[rank 1/2]") != std::string::npos);
  CHECK(text.find("members 2-4 (3)") != std::string::npos);
  require_same_forecast(one, ranks);
  const ForecastFileInfo info = ForecastReader(ranks).info();
  CHECK(info.spec.run_fingerprint == ForecastReader(one).info().spec.run_fingerprint);
  CHECK(info.attribute("history").find("(2 MPI ranks)") != std::string::npos);
  CHECK(info.spec.compression == 1);  // the run's level
  // The parts were stored with the run's settings and copied as they are.
  CHECK(text.find("2 part(s) copied as stored") != std::string::npos);
  // Only the two forecasts: the parts are gone.
  CHECK(dir.entries() == std::vector<std::string>{"log", "one.nc", "ranks.nc"});
}

TEST_CASE("check-config under mpirun -n 2 shows every rank's members and devices",
          "[cli][mpi][check-config]") {
  if (skip_without_mpi()) return;
  TempDir dir;
  const std::string log = dir.file("log");
  const int rc = run_shell(mpirun(2) + shell_quote(GENCAST_RUN_BINARY) +
                               " check-config --steps 2 --members 4 --batch 1 " +
                               tiny_flags(dir.file("f.nc")),
                           log);
  const std::string text = slurp(log);
  INFO(text);
  CHECK(rc == 0);
  CHECK(text.find("2 MPI ranks on 1 node(s)") != std::string::npos);
  CHECK(text.find("members 0-1 (2) on cpu") != std::string::npos);
  CHECK(text.find("members 2-3 (2) on cpu") != std::string::npos);
  CHECK(text.find("check-config: OK") != std::string::npos);
  // A device missing on one rank is a problem of that rank, listed by rank 0.
  const std::string script = write_rank_script(
      dir, "check-config --steps 1 --members 2 " + tiny_flags(dir.file("f.nc"), "$dev"), "cuda:99");
  run_shell(mpirun(2) + "sh " + shell_quote(script), log);
  const std::string rank0 = slurp(dir.file("log.0"));
  INFO(rank0);
  CHECK(slurp(dir.file("rc.0")) == "2\n");
  CHECK(slurp(dir.file("rc.1")) == "2\n");
  CHECK(rank0.find("cuda:99") != std::string::npos);
  CHECK(rank0.find("on rank 1") != std::string::npos);
}

TEST_CASE("a rank failing before the run ends every rank non-zero, with no output",
          "[cli][mpi]") {
  if (skip_without_mpi()) return;
  TempDir dir;
  const std::string out = dir.file("f.nc");
  const std::string script =
      write_rank_script(dir, "forecast --steps 2 --members 4 --seed 1 " + tiny_flags(out, "$dev"),
                        "cuda:99");
  const int rc = run_shell(mpirun(2) + "sh " + shell_quote(script), dir.file("mpirun.log"));
  const std::string log0 = slurp(dir.file("log.0")), log1 = slurp(dir.file("log.1"));
  INFO("mpirun rc " << rc << "\nrank 0:\n" << log0 << "\nrank 1:\n" << log1);
  CHECK(slurp(dir.file("rc.0")) == "2\n");  // the input error's code, on every rank
  CHECK(slurp(dir.file("rc.1")) == "2\n");
  CHECK(log1.find("cuda:99") != std::string::npos);
  CHECK(no_forecast_files(dir));
}

TEST_CASE("a rank stopped mid-run stops the others: non-zero everywhere, no output",
          "[cli][mpi][signals]") {
  if (skip_without_mpi()) return;
  TempDir dir;
  const std::string out = dir.file("f.nc");
  // A long run; rank 1 alone gets SIGTERM once it has stepped.
  const std::string script = write_rank_script(
      dir, "forecast --steps 3000 --members 2 --batch 1 " + tiny_flags(out, "$dev"), "cpu");
  const std::string log1 = dir.file("log.1");
  const std::string command =
      mpirun(2) + "sh " + shell_quote(script) + " & m=$!; for i in $(seq 600); do grep -q 'step 1/' " +
      shell_quote(log1) + " 2>/dev/null && break; sleep 0.1; done; kill -TERM $(cat " +
      shell_quote(dir.file("pid.1")) + "); wait $m";
  run_shell(command, dir.file("mpirun.log"));
  const std::string text0 = slurp(dir.file("log.0")), text1 = slurp(log1);
  INFO("rank 0:\n" << text0 << "\nrank 1:\n" << text1);
  CHECK(slurp(dir.file("rc.1")) == "1\n");
  CHECK(slurp(dir.file("rc.0")) == "1\n");
  CHECK(text1.find("interrupted by SIGTERM") != std::string::npos);
  // Rank 0 stopped because of rank 1, long before its 3000 steps, keeping
  // what it computed for --resume, as a signal would.
  CHECK(text0.find("interrupted by the failure of rank 1") != std::string::npos);
  CHECK(text0.find("step 3000/3000") == std::string::npos);
  CHECK(text0.find("--resume") != std::string::npos);
  CHECK(!fs::exists(out));
}

TEST_CASE("an MPI run stopped on one rank, then --resume: the one-process forecast bit for bit",
          "[cli][mpi][resume]") {
  if (skip_without_mpi()) return;
  TempDir dir;
  const std::string one = dir.file("one.nc"), out = dir.file("f.nc");
  const std::string run = "--steps 6 --members 3 --batch 1 --seed 4 ";
  const CliResult r1 = run_gencast("forecast " + run + tiny_flags(one));
  INFO(r1.all());
  REQUIRE(r1.exit_code == 0);
  // Rank 1 (members 1 and 2) is stopped after its first step; rank 0 stops
  // then too, or has finished.
  const std::string script = write_rank_script(dir, "forecast " + run + tiny_flags(out, "$dev"), "cpu");
  run_shell(mpirun(2) + "sh " + shell_quote(script) + " & m=$!; for i in $(seq 600); do grep -q " +
                "'step 1/' " + shell_quote(dir.file("log.1")) + " 2>/dev/null && break; sleep 0.1; " +
                "done; kill -TERM $(cat " + shell_quote(dir.file("pid.1")) + "); wait $m",
            dir.file("mpirun.log"));
  INFO("rank 1, first attempt:\n" << slurp(dir.file("log.1")));
  REQUIRE(slurp(dir.file("rc.1")) == "1\n");
  REQUIRE(!fs::exists(out));
  // The same command with --resume continues every rank's part.
  const std::string log = dir.file("resume.log");
  const int rc = run_shell(mpirun(2) + shell_quote(GENCAST_RUN_BINARY) + " forecast " + run +
                               tiny_flags(out) + " --resume",
                           log);
  INFO(slurp(log));
  REQUIRE(rc == 0);
  require_same_forecast(one, out);
  for (const auto& e : dir.entries()) CHECK(e.find(".part") == std::string::npos);
}
