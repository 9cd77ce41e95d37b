// The pieces a resumed forecast stands on, one at a time: the NetCDF
// writer's suspend/reopen (the continued file equals an uninterrupted one
// bit for bit), the step journal (torn tails and damaged headers), the field
// digest, the output lock, the state sidecar, and rebuilding a member's
// frames from its last two steps. The whole thing end to end, with kill -9
// at random points, is in tests/cli/test_cli_resume.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "config/model_config.h"
#include "config/variables.h"
#include "core/error.h"
#include "core/parallel.h"
#include "data/normalization.h"
#include "io/forecast_reader.h"
#include "io/frame_store.h"
#include "io/netcdf_forecast_writer.h"
#include "io/output_lock.h"
#include "io/partial_output.h"
#include "io/step_journal.h"
#include "runtime/resume_point.h"
#include "test_temp_dir.h"
#include "unit/test_input_files.h"

using namespace gencast;
using gencast::testing::TempDir;
using gencast::testing::tiny_fixture;
namespace fs = std::filesystem;

namespace {

ForecastOutputSpec small_spec(const std::string& path, OutputLayout layout) {
  ForecastOutputSpec s;
  s.path = path;
  s.layout = layout;
  for (int i = 0; i < 7; ++i) s.lat.push_back(-90.0f + 30.0f * static_cast<float>(i));
  for (int i = 0; i < 12; ++i) s.lon.push_back(30.0f * static_cast<float>(i));
  s.levels = {500, 850, 1000};
  s.init_time_s = 1553860800;  // 2019-03-29T12:00:00Z
  s.lead_hours = {12, 24, 36};
  s.member_ids = {4, 9};
  s.channels = {{"2m_temperature", 0, -1},
                {"sea_surface_temperature", 0, -1},
                {"temperature", 0, 0},
                {"temperature", 0, 1},
                {"temperature", 0, 2}};
  s.command_line = "gencast-run forecast test.yaml";
  return s;
}

// [n_grid, channels] random values per (member, lead); SST NaN on every third cell.
std::vector<std::vector<float>> random_steps(const ForecastOutputSpec& s, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-300.0f, 300.0f);
  const size_t n_grid = s.lat.size() * s.lon.size(), c = s.channels.size();
  std::vector<std::vector<float>> steps(s.member_ids.size() * s.lead_hours.size());
  for (auto& v : steps) {
    v.resize(n_grid * c);
    for (auto& x : v) x = u(rng);
    for (size_t g = 0; g < n_grid; g += 3) v[g * c + 1] = std::numeric_limits<float>::quiet_NaN();
  }
  return steps;
}

// Every (member, lead) of two files, compared as bits.
bool same_data(const std::string& a, const std::string& b) {
  const ForecastReader ra(a), rb(b);
  const ForecastOutputSpec& s = ra.info().spec;
  if (s.channels.size() != rb.info().spec.channels.size()) return false;
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

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("resume: a suspended NetCDF partial reopened and finished equals an uninterrupted file",
          "[resume][output]") {
  for (OutputLayout layout : {OutputLayout::predictions, OutputLayout::wb2}) {
    INFO(output_layout_name(layout));
    TempDir dir;
    const ForecastOutputSpec whole = small_spec(dir.file("whole.nc"), layout);
    const auto steps = random_steps(whole, 17);
    const int n_leads = static_cast<int>(whole.lead_hours.size());
    {
      NetcdfForecastWriter w(whole);
      for (int i = 0; i < static_cast<int>(steps.size()); ++i)
        w.write_step(i / n_leads, i % n_leads, steps[static_cast<size_t>(i)].data());
      w.close();
    }
    const ForecastOutputSpec spec = small_spec(dir.file("f.nc"), layout);
    // Member 0 at +12 h and +24 h, member 1 at +12 h, then the run stops.
    std::vector<unsigned char> written(steps.size(), 0);
    {
      NetcdfForecastWriter w(spec);
      for (int i : {0, 1, 3}) {
        w.write_step(i / n_leads, i % n_leads, steps[static_cast<size_t>(i)].data());
        written[static_cast<size_t>(i)] = 1;
      }
      w.flush();
      w.suspend();
    }  // destroyed after suspend(): the partial file stays
    const std::string partial = partial_output_paths(spec.path).data;
    REQUIRE(fs::exists(partial));
    CHECK(!fs::exists(spec.path));
    {
      NetcdfForecastWriter w(spec, written);
      CHECK(w.temp_path() == partial);
      // A step the file holds may not be written again...
      CHECK_THROWS_AS(w.write_step(0, 0, steps[0].data()), std::logic_error);
      for (int i = 0; i < static_cast<int>(steps.size()); ++i)
        if (!written[static_cast<size_t>(i)])
          w.write_step(i / n_leads, i % n_leads, steps[static_cast<size_t>(i)].data());
      w.close();
    }
    CHECK(!fs::exists(partial));
    CHECK(same_data(whole.path, spec.path));
    const ForecastReader done(spec.path);
    CHECK(done.info().attribute("history").find("resumed: gencast-run forecast test.yaml") !=
          std::string::npos);
  }
}

TEST_CASE("resume: reopening refuses a partial of another shape and never deletes it",
          "[resume][output]") {
  TempDir dir;
  ForecastOutputSpec spec = small_spec(dir.file("f.nc"), OutputLayout::predictions);
  const auto steps = random_steps(spec, 3);
  {
    NetcdfForecastWriter w(spec);
    w.write_step(0, 0, steps[0].data());
    w.suspend();
  }
  ForecastOutputSpec more_leads = spec;
  more_leads.lead_hours = {12, 24, 36, 48};
  CHECK_THROWS_AS(NetcdfForecastWriter(more_leads, std::vector<unsigned char>(8, 0)), RuntimeFailure);
  CHECK(fs::exists(partial_output_paths(spec.path).data));
  // ...and an unsuspended writer still removes its file.
  { NetcdfForecastWriter w(small_spec(dir.file("g.nc"), OutputLayout::predictions)); }
  CHECK(!fs::exists(partial_output_paths(dir.file("g.nc")).data));
}

TEST_CASE("resume: the step journal keeps its valid prefix and refuses a damaged header",
          "[resume][journal]") {
  TempDir dir;
  const std::string path = dir.file("f.nc.partial.journal");
  const JournalHeader header = {{"fingerprint", "0123456789abcdef"}, {"member_steps", "6"}};
  {
    StepJournal j = StepJournal::create(path, header, {{4, 12, 0xdeadbeefULL}});
    j.commit({{4, 24, 0x1111ULL}, {9, 12, 0x2222ULL}});
    j.commit({});
  }
  JournalContents c = read_step_journal(path);
  CHECK(c.header == header);
  CHECK(c.value("member_steps") == "6");
  REQUIRE(c.records.size() == 3);
  CHECK(c.records[2].member_id == 9);
  CHECK(c.records[2].lead_hours == 12);
  CHECK(c.records[2].digest == 0x2222ULL);
  CHECK(!c.torn_tail);

  // A record cut short (the process died inside the append) ends the records.
  const std::string whole = read_text(path);
  { std::ofstream(path, std::ios::binary | std::ios::app) << "step 9 24 00000000000033"; }
  c = read_step_journal(path);
  CHECK(c.records.size() == 3);
  CHECK(c.torn_tail);
  CHECK(c.valid_bytes == static_cast<int64_t>(whole.size()));
  // So does a record whose text changed (its check fails), and all after it.
  std::string changed = whole;
  const size_t at = changed.find("step 4 24");
  REQUIRE(at != std::string::npos);
  changed[at + 5] = '7';
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << changed; }
  c = read_step_journal(path);
  CHECK(c.records.size() == 1);
  // A changed header is refused, naming the file.
  std::string bad_header = whole;
  bad_header[bad_header.find("member_steps: 6") + 14] = '9';
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << bad_header; }
  try {
    read_step_journal(path);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << "not a journal\n"; }
  CHECK_THROWS_AS(read_step_journal(path), InputError);
}

TEST_CASE("resume: the field digest sees one flipped bit and not the worker count",
          "[resume][journal]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v((size_t{1} << 20) + 12345);  // several blocks and a short last one
  for (auto& x : v) x = u(rng);
  uint64_t one = 0, many = 0;
  {
    ScopedParallelWorkers serial(1);
    one = fields_digest(v.data(), v.size());
  }
  {
    ScopedParallelWorkers several(5);
    many = fields_digest(v.data(), v.size());
  }
  CHECK(one == many);
  uint32_t bits = 0;
  std::memcpy(&bits, &v[777777], 4);
  bits ^= 1u;
  std::memcpy(&v[777777], &bits, 4);
  CHECK(fields_digest(v.data(), v.size()) != one);
  CHECK(fields_digest(v.data(), v.size() - 1) != fields_digest(v.data(), v.size()));
}

TEST_CASE("resume: the output lock refuses a second writer, names the first and goes away",
          "[resume][lock]") {
  TempDir dir;
  const std::string out = dir.file("f.nc");
  CHECK(!output_lock_holder(out));
  {
    OutputLock lock(out);
    CHECK(lock.holder().find("PID " + std::to_string(::getpid())) == 0);
    const auto holder = output_lock_holder(out);
    REQUIRE(holder);
    CHECK(*holder == lock.holder());
    try {
      OutputLock second(out);
      FAIL("expected an InputError");
    } catch (const InputError& e) {
      const std::string msg = e.what();
      CHECK(msg.find("PID " + std::to_string(::getpid())) != std::string::npos);
      CHECK(msg.find(out) != std::string::npos);
    }
    // Testing the lock never takes it: the holder keeps it.
    CHECK(output_lock_holder(out));
  }
  CHECK(!fs::exists(partial_output_paths(out).lock));
  CHECK(!output_lock_holder(out));
  // A lock file left by a killed run (no lock on it) is no obstacle.
  { std::ofstream(partial_output_paths(out).lock) << "PID 1 on host gone\n"; }
  CHECK(!output_lock_holder(out));
  OutputLock again(out);
}

TEST_CASE("resume: the state sidecar stores steps whole and forgets them", "[resume][journal]") {
  TempDir dir;
  const FrameStore store(dir.file("f.nc.partial.state"));
  std::vector<float> v(1000), back(1000);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-5.0f, 5.0f);
  for (auto& x : v) x = u(rng);
  store.write(7, 36, v.data(), v.size());
  REQUIRE(store.read(7, 36, back.data(), back.size()));
  CHECK(back == v);
  CHECK(!store.read(7, 48, back.data(), back.size()));     // never written
  CHECK(!store.read(7, 36, back.data(), back.size() - 1));  // another size
  store.remove(7, 36);
  CHECK(!store.read(7, 36, back.data(), back.size()));
  CHECK(dir.entries() == std::vector<std::string>{"f.nc.partial.state"});
}

TEST_CASE("resume: a member's frames rebuilt from its last two steps equal the rolled-out frames",
          "[resume][frames]") {
  const TaskConfig task = default_gencast_task();
  const InputDataset initial =
      read_input_dataset(tiny_fixture("source_tiny.nc"), task, "2019-03-29T12:00");
  const int64_t G = initial.n_grid();
  const auto C = static_cast<int64_t>(target_channels(task).size());
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> u(200.0f, 300.0f);
  std::vector<ArrayF> predictions;
  for (int s = 0; s < 4; ++s) {
    predictions.emplace_back(Shape{G, C});
    for (auto& x : predictions.back().data) x = u(rng);
  }
  InputDataset rolled = initial;
  for (int64_t first = 1; first <= 4; ++first) {
    INFO("first step " << first);
    advance_frames_in_place(rolled, predictions[static_cast<size_t>(first - 1)].ptr(),
                            rolled.times_s.back() + kModelStepSeconds, task);
    const int64_t k = std::min<int64_t>(first, input_frame_count(task));
    const std::vector<ArrayF> recent(predictions.begin() + (first - k), predictions.begin() + first);
    InputDataset rebuilt = initial;
    rebuild_frames(rebuilt, recent, first, task);
    CHECK(rebuilt.times_s == rolled.times_s);
    REQUIRE(rebuilt.fields.size() == rolled.fields.size());
    for (const auto& [name, field] : rolled.fields) {
      INFO(name);
      const ArrayF& other = rebuilt.fields.at(name);
      REQUIRE(other.numel() == field.numel());
      CHECK(std::memcmp(other.ptr(), field.ptr(), field.numel() * sizeof(float)) == 0);
    }
  }
  InputDataset wrong = initial;
  CHECK_THROWS_AS(rebuild_frames(wrong, {predictions[0]}, 3, task), std::invalid_argument);
}
