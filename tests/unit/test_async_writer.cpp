// The background forecast writer: steps written from another thread land in
// the file, a write error surfaces on the runner's thread, and a writer
// dropped without close() leaves no file.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "config/model_config.h"
#include "config/stacking.h"
#include "io/netcdf_forecast_writer.h"
#include "runtime/async_writer.h"

using namespace gencast;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path = fs::temp_directory_path() / ("gencast_async_" + std::to_string(std::random_device{}()));
  Dir() { fs::create_directories(path); }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

ForecastOutputSpec spec_for(const fs::path& file) {
  const TaskConfig task = default_gencast_task();
  ForecastOutputSpec spec;
  spec.path = file.string();
  for (int i = 0; i < 46; ++i) spec.lat.push_back(-90.0f + 4.0f * static_cast<float>(i));
  for (int i = 0; i < 90; ++i) spec.lon.push_back(4.0f * static_cast<float>(i));
  spec.levels = task.pressure_levels;
  spec.init_time_s = 1553860800;
  spec.lead_hours = {12, 24};
  spec.member_ids = {0, 1};
  spec.channels = target_channels(task);
  spec.compression = 0;
  return spec;
}

ArrayF fields(float value) {
  return ArrayF({46 * 90, static_cast<int64_t>(target_channels(default_gencast_task()).size())}, value);
}

}  // namespace

TEST_CASE("async writer: every queued step is written before close renames the file",
          "[output][async]") {
  Dir dir;
  const fs::path file = dir.path / "f.nc";
  AsyncForecastWriter writer(std::make_unique<NetcdfForecastWriter>(spec_for(file)), 1);
  for (int m = 0; m < 2; ++m)
    for (int l = 0; l < 2; ++l) writer.write_step(m, l, fields(static_cast<float>(m * 10 + l)));
  CHECK(!fs::exists(file));
  writer.close();
  CHECK(fs::exists(file));
}

TEST_CASE("async writer: a failed write is re-thrown on the caller's thread, no file remains",
          "[output][async]") {
  Dir dir;
  const fs::path file = dir.path / "f.nc";
  {
    AsyncForecastWriter writer(std::make_unique<NetcdfForecastWriter>(spec_for(file)), 1);
    writer.write_step(0, 0, fields(1.f));
    writer.write_step(0, 0, fields(2.f));  // the same (member, lead) twice: the writer refuses
    bool thrown = false;
    try {
      writer.write_step(1, 0, fields(3.f));
      writer.write_step(1, 1, fields(4.f));
      writer.close();
    } catch (const std::exception&) {
      thrown = true;
    }
    CHECK(thrown);
  }
  CHECK(!fs::exists(file));
  for (const auto& e : fs::directory_iterator(dir.path)) FAIL("left behind: " << e.path());
}

TEST_CASE("async writer: the slow-writer hint appears after a long wait only", "[writer]") {
  Dir dir;
  ForecastOutputSpec spec = spec_for(dir.path / "f.nc");
  spec.compression = 1;
  const std::string zlib_hint = NetcdfForecastWriter(spec).slow_write_hint();
  spec.compression = 0;
  const std::string no_hint = NetcdfForecastWriter(spec).slow_write_hint();
  CHECK(no_hint.empty());
  CHECK(gencast::slow_writer_hint(0.2, zlib_hint).empty());
  CHECK(gencast::slow_writer_hint(1.0, zlib_hint).empty());
  const std::string compressed = gencast::slow_writer_hint(8.31, zlib_hint);
  CHECK(compressed.find("8.3 s") != std::string::npos);
  CHECK(compressed.find("--compression 0") != std::string::npos);
  const std::string plain = gencast::slow_writer_hint(3.0, no_hint);
  CHECK(plain.find("bottleneck") != std::string::npos);
  CHECK(plain.find("--compression") == std::string::npos);  // nothing left to switch off
}
