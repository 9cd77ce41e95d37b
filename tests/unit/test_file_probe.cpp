// The NetCDF file probe (io/file_probe.h): the child process (this test
// binary, started again with the hidden command; tests/test_main.cpp answers
// it) reports exactly what the in-process checks report, turns a library crash
// or hang into one problem naming the file, and stops its child when the caller
// gives up. Also: a library read error names the file and the variable (an
// InputError, exit 2), not a bare "NetCDF: HDF error" (exit 1).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/checkpoint_reader.h"
#include "io/file_probe.h"
#include "io/netcdf_input.h"
#include "io/npz.h"
#include "io/stats.h"
#include "test_temp_dir.h"
#include "unit/test_input_files.h"

using namespace gencast;
using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

const std::string kTinyDir = std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny";
const std::string kCheckpoint = kTinyDir + "/tiny_checkpoint.npz";
const std::string kRegressions = std::string(GENCAST_TEST_DATA_DIR) + "/regressions/netcdf";

TaskConfig tiny_task() { return read_model_config(NpzReader(kCheckpoint)).task; }

std::vector<Problem> probe(FileProbeKind kind, const std::string& path, double timeout_s = 0) {
  ProblemList problems;
  FileProbeOptions options;
  options.timeout_s = timeout_s;
  probe_files({kind, kCheckpoint, {path}, ""}, problems, options);
  return problems.problems();
}

std::vector<std::string> texts(const std::vector<Problem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.to_string());
  return out;
}

// Sets an environment variable for the lifetime of the object (the child inherits it).
struct ScopedEnv {
  std::string name;
  ScopedEnv(const char* n, const char* value) : name(n) { ::setenv(n, value, 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("the probe finds nothing in good files", "[probe]") {
  CHECK(probe(FileProbeKind::input, kTinyDir + "/source_tiny.nc").empty());
  CHECK(probe(FileProbeKind::stats, kTinyDir).empty());
}

TEST_CASE("the probe reports exactly the in-process check's problems", "[probe]") {
  TempDir dir;
  TestNcFile f = TestNcFile::load(kTinyDir + "/source_tiny.nc");
  f.remove_var("specific_humidity");
  auto& t = f.var("temperature").values;
  t[t.size() - 123] = std::nan("");  // in the init frame (the last), which is read
  const std::string bad = dir.file("bad.nc");
  f.write(bad);
  ProblemList in_process;
  check_input_dataset(bad, tiny_task(), "", in_process);
  REQUIRE(in_process.size() == 2);
  CHECK(texts(probe(FileProbeKind::input, bad)) == texts(in_process.problems()));

  fs::create_directories(dir.file("stats"));
  for (const char* name : {"mean_by_level.nc", "stddev_by_level.nc", "diffs_stddev_by_level.nc"})
    fs::copy_file(kTinyDir + "/" + name, dir.file(std::string("stats/") + name));
  ProblemList stats_in_process;
  check_stats(dir.file("stats"), tiny_task(), stats_in_process);
  REQUIRE(stats_in_process.size() == 1);  // min_by_level.nc missing
  CHECK(texts(probe(FileProbeKind::stats, dir.file("stats"))) ==
        texts(stats_in_process.problems()));
}

TEST_CASE("a file that crashes the NetCDF/HDF5 library is one problem naming it", "[probe]") {
  // A real one: HDF5 1.10.8 frees an invalid pointer in nc_open (see
  // tests/data/regressions/README.md); whether glibc aborts depends on the
  // heap, so the probe reports a crash or the library's error — exit 2 either way.
  const std::string real = kRegressions + "/hdf5_invalid_free_in_open.nc";
  const auto found = probe(FileProbeKind::input, real);
  REQUIRE(found.size() == 1);
  CHECK(found[0].file == real);

  // A certain one: the test hook makes the child abort after opening the file.
  ScopedEnv crash("GENCAST_PROBE_SELFTEST", "crash");
  const std::string input = kTinyDir + "/source_tiny.nc";
  auto crashed = probe(FileProbeKind::input, input);
  REQUIRE(crashed.size() == 1);
  CHECK(crashed[0].file == input);
  CHECK(crashed[0].found.find("the NetCDF/HDF5 library crashed reading it (SIGABRT") == 0);
  CHECK(crashed[0].found.find("the file is corrupt or truncated") != std::string::npos);
  // For a statistics folder it names the file being read, not the folder.
  crashed = probe(FileProbeKind::stats, kTinyDir);
  REQUIRE(crashed.size() == 1);
  CHECK(crashed[0].file == kTinyDir + "/mean_by_level.nc");
}

TEST_CASE("a file the library hangs on is one problem after the time limit", "[probe]") {
  ScopedEnv hang("GENCAST_PROBE_SELFTEST", "hang");
  const auto found = probe(FileProbeKind::input, kTinyDir + "/source_tiny.nc", 0.5);
  REQUIRE(found.size() == 1);
  CHECK(found[0].found.find("hung reading it (no answer in 0.5 s)") != std::string::npos);
  // The limit comes from GENCAST_PROBE_TIMEOUT when not given; junk there is an input error.
  ScopedEnv limit("GENCAST_PROBE_TIMEOUT", "0.3");
  CHECK(file_probe_timeout({}) == 0.3);
  CHECK(file_probe_timeout({}, 4'000'000'000) == 0.3);
  ScopedEnv junk("GENCAST_PROBE_TIMEOUT", "soon");
  CHECK_THROWS_AS(file_probe_timeout({}), InputError);
}

TEST_CASE("the default time limit grows with the files probed, up to 300 s", "[probe]") {
  ScopedEnv unset("GENCAST_PROBE_TIMEOUT", "");
  CHECK(file_probe_timeout({}, 0) == kProbeBaseSeconds);
  CHECK(file_probe_timeout({}, 370'000'000) == Approx(kProbeBaseSeconds + 37));  // a 0.25 deg input
  CHECK(file_probe_timeout({}, 40'000'000'000) == kDefaultProbeTimeoutSeconds);
  FileProbeOptions given;
  given.timeout_s = 2;
  CHECK(file_probe_timeout(given, 40'000'000'000) == 2);
}

TEST_CASE("a one-bit corruption that makes HDF5 loop for ever is refused within seconds", "[probe]") {
  // Found by the mutation campaign (docs/bad-inputs.md): bit 0 of byte 3352 of
  // the tiny input, in the HDF5 metadata, makes HDF5 1.10.8 loop in nc_open
  // (a variable-length attribute read through a corrupt global heap). The
  // default limit of a 4.9 MB file is ~10.5 s, not the 300 s cap.
  ScopedEnv unset("GENCAST_PROBE_TIMEOUT", "");
  gencast::testing::TempDir dir;
  const std::string path = dir.file("flipped.nc");
  std::filesystem::copy_file(kTinyDir + "/source_tiny.nc", path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(3352);
    const char byte = static_cast<char>(f.get() ^ 1);
    f.seekp(3352);
    f.put(byte);
  }
  const auto found = probe(FileProbeKind::input, path);
  REQUIRE(found.size() == 1);
  CHECK(found[0].file == path);
  // Whatever a later HDF5 makes of it: if it still hangs, the limit was the small one.
  if (found[0].found.find("hung") != std::string::npos)
    CHECK(found[0].found.find("no answer in 10.5 s") != std::string::npos);
}

TEST_CASE("a caller that gives up stops the probe's child", "[probe]") {
  ScopedEnv hang("GENCAST_PROBE_SELFTEST", "hang");
  FileProbeOptions options;
  int polls = 0;
  options.poll = [&] {
    if (++polls == 3) throw RuntimeFailure("interrupted");
  };
  ProblemList problems;
  CHECK_THROWS_WITH(probe_files({FileProbeKind::input, kCheckpoint, {kTinyDir + "/source_tiny.nc"}, ""},
                                problems, options),
                    "interrupted");
  CHECK(problems.empty());
}

TEST_CASE("a probe that cannot run, or ends without an answer, is a runtime failure", "[probe]") {
  ProblemList problems;
  FileProbeOptions missing;
  missing.executable = "/nonexistent/gencast-run";
  CHECK_THROWS_AS(probe_files({FileProbeKind::input, kCheckpoint, {"x.nc"}, ""}, problems, missing),
                  RuntimeFailure);
  // A program that does not answer the hidden command (here: `true`).
  FileProbeOptions mute;
  mute.executable = "/bin/true";
  CHECK_THROWS_WITH(probe_files({FileProbeKind::input, kCheckpoint, {"x.nc"}, ""}, problems, mute),
                    Catch::Contains("ended without an answer"));
  CHECK(problems.empty());
}

TEST_CASE("a library read error names the file and the variable (exit 2)", "[probe][input]") {
  // A flipped byte in a compressed chunk: the file opens, reading the field fails.
  const std::string path = kRegressions + "/corrupt_chunk_read_error.nc";
  ProblemList problems;
  check_input_dataset(path, tiny_task(), "", problems);
  REQUIRE(problems.size() == 1);
  const Problem& p = problems.problems()[0];
  CHECK(p.file == path);
  CHECK(p.field == "2m_temperature");
  CHECK(p.found == "a read error (reading variable 2m_temperature: NetCDF: HDF error)");
  CHECK_THROWS_AS(read_input_dataset(path, tiny_task(), ""), InputError);
  // The probe reports the same.
  CHECK(texts(probe(FileProbeKind::input, path)) == texts(problems.problems()));
}
