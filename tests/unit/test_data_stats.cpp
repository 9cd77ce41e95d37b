// Normalization statistics: level selection from the 37 ERA5 levels, scalars
// for surface variables, and errors naming the file and the variables when
// the folder is incomplete or malformed.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "io/netcdf_util.h"
#include "io/stats.h"
#include "test_input_files.h"

using namespace gencast;
using gencast::testing::TempDir;
using gencast::testing::TestNcFile;
using gencast::testing::tiny_fixture;

namespace {

const std::string kStatsDir = std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny";

// Copies the four fixture stats files into `dir`.
void copy_stats(const TempDir& dir) {
  for (const char* f : {kMeanStatsFile, kStddevStatsFile, kDiffsStddevStatsFile, kMinStatsFile})
    std::filesystem::copy_file(kStatsDir + "/" + f, dir.file(f));
}

std::string input_error_of(const std::string& dir) {
  try {
    read_stats(dir, default_gencast_task());
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("stats select the task levels by value", "[data][stats]") {
  const TaskConfig task = default_gencast_task();
  const NormalizationStats stats = read_stats(kStatsDir, task);

  // Independently: the file's level coordinate and the 37 raw values.
  NcFile file = NcFile::open_read(kStatsDir + "/" + kMeanStatsFile);
  const std::vector<double> levels = nc_read_all_f64(*nc_find_var(file.id(), "level"));
  const std::vector<float> raw = nc_read_all_f32(*nc_find_var(file.id(), "temperature"));
  REQUIRE(levels.size() == 37);
  const std::vector<float>& t = stats.mean.at("temperature");
  REQUIRE(t.size() == task.pressure_levels.size());
  for (size_t i = 0; i < task.pressure_levels.size(); ++i) {
    size_t pos = 0;
    while (levels[pos] != static_cast<double>(task.pressure_levels[i])) ++pos;
    CHECK(t[i] == raw[pos]);
  }
  CHECK(stats.mean.at("2m_temperature").size() == 1);
  CHECK(stats.stddev.at("year_progress_sin").size() == 1);
  // Residual scales only for targets that are inputs; the fill value for SST.
  CHECK(stats.diffs_stddev.count("temperature") == 1);
  CHECK(stats.diffs_stddev.count("total_precipitation_12hr") == 0);
  CHECK(stats.mean.count("total_precipitation_12hr") == 1);
  REQUIRE(stats.min.count("sea_surface_temperature") == 1);
  CHECK(std::isfinite(stats.min.at("sea_surface_temperature")[0]));
}

TEST_CASE("incomplete or malformed stats folders are reported", "[data][stats]") {
  TempDir dir;
  const std::string path = dir.path().string();
  copy_stats(dir);

  SECTION("missing variables are named") {
    TestNcFile f = TestNcFile::load(dir.file(kMeanStatsFile));
    f.remove_var("land_sea_mask");
    f.remove_var("temperature");
    f.write(dir.file(kMeanStatsFile));
    const std::string msg = input_error_of(path);
    CHECK(has(msg, dir.file(kMeanStatsFile) + ": "));
    CHECK(has(msg, "land_sea_mask"));
    CHECK(has(msg, "temperature"));
    CHECK(has(msg, "missing"));
  }
  SECTION("a task level missing from the stats") {
    TestNcFile f = TestNcFile::load(dir.file(kStddevStatsFile));
    std::vector<size_t> keep;
    for (size_t i = 0; i < 37; ++i)
      if (f.var("level").values[i] != 500.0) keep.push_back(i);
    f.select_along("level", keep);
    f.write(dir.file(kStddevStatsFile));
    const std::string msg = input_error_of(path);
    CHECK(has(msg, dir.file(kStddevStatsFile) + ": level:"));
    CHECK(has(msg, "missing 500"));
  }
  SECTION("a zero standard deviation") {
    TestNcFile f = TestNcFile::load(dir.file(kDiffsStddevStatsFile));
    f.var("2m_temperature").values[0] = 0.0;
    f.write(dir.file(kDiffsStddevStatsFile));
    CHECK(has(input_error_of(path), dir.file(kDiffsStddevStatsFile) + ": 2m_temperature: "
                                    "expected finite values > 0"));
  }
  SECTION("a surface statistic with a level dim") {
    TestNcFile f = TestNcFile::load(dir.file(kMeanStatsFile));
    f.var("2m_temperature").dims = {"level"};
    f.var("2m_temperature").values.assign(37, 280.0);
    f.write(dir.file(kMeanStatsFile));
    CHECK(has(input_error_of(path), dir.file(kMeanStatsFile) + ": 2m_temperature: expected a scalar"));
  }
  SECTION("a missing file and a missing folder") {
    std::filesystem::remove(dir.file(kMinStatsFile));
    CHECK(has(input_error_of(path), dir.file(kMinStatsFile) + ": expected an existing NetCDF file"));
    const std::string nowhere = dir.file("nowhere");
    CHECK(has(input_error_of(nowhere), nowhere + ": expected a folder"));
  }
  SECTION("check_stats collects problems of every file") {
    std::filesystem::remove(dir.file(kMinStatsFile));
    TestNcFile f = TestNcFile::load(dir.file(kMeanStatsFile));
    f.remove_var("geopotential");
    f.write(dir.file(kMeanStatsFile));
    ProblemList problems;
    check_stats(path, default_gencast_task(), problems);
    REQUIRE(problems.size() == 2);
    CHECK(problems.problems()[0].file == dir.file(kMeanStatsFile));
    CHECK(problems.problems()[1].file == dir.file(kMinStatsFile));
  }
}
