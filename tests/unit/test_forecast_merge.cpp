// merge_forecasts (runtime/forecast_merge.h) on synthetic parts written by
// the NetCDF sink: the merged file holds every member's values bit for bit,
// sorted by id (or in the order asked), with the run's identity, a history
// and a run spec that describe it; parts of different runs or shapes,
// overlapping members, files without an identity, an existing output and an
// output that is a part are refused, naming the files and what differs.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include "core/error.h"
#include "io/forecast_reader.h"
#include "io/netcdf_forecast_writer.h"
#include "runtime/forecast_merge.h"
#include "runtime/run_fingerprint.h"
#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"
#include "test_temp_dir.h"

using namespace gencast;
using gencast::testing::TempDir;

namespace {

const char* kIdentity =
    "checkpoint: 00ff\nstats: 11ee\ninput: 22dd\ninit_time: 2019-03-29T12:00\nseed: 5\nsteps: 2\n"
    "precision: fp32\nbatch: 1\nattention: auto\n";

std::string identity_with(const std::string& key, const std::string& value) {
  RunFingerprint f = parse_run_identity(kIdentity);
  for (auto& [k, v] : f.items)
    if (k == key) v = value;
  return f.text();
}

ForecastOutputSpec part_spec(const std::string& path, std::vector<int64_t> members) {
  ForecastOutputSpec s;
  s.path = path;
  for (int i = 0; i < 5; ++i) s.lat.push_back(-90.0f + 45.0f * static_cast<float>(i));
  for (int i = 0; i < 8; ++i) s.lon.push_back(45.0f * static_cast<float>(i));
  s.levels = {500, 850};
  s.init_time_s = 1553860800;
  s.lead_hours = {12, 24};
  s.member_ids = std::move(members);
  s.channels = {{"2m_temperature", 0, -1},
                {"sea_surface_temperature", 0, -1},
                {"temperature", 0, 0},
                {"temperature", 0, 1}};
  s.compression = 1;
  s.run_identity = kIdentity;
  s.run_fingerprint = parse_run_identity(kIdentity).digest();
  s.model_description = "tiny test model";
  s.command_line = "gencast-run forecast part";
  RunSpec run;
  run.model.checkpoint = "/data/ck.npz";
  run.model.stats_dir = "/data/stats";
  run.input.path = "/data/in.nc";
  run.output.path = path;
  run.forecast.member_ids = s.member_ids;
  run.forecast.members = static_cast<int64_t>(s.member_ids.size());
  s.run_spec_yaml = to_yaml(run);
  return s;
}

// Member `id`'s fields at `lead`: random, NaN on some SST cells; the same
// whichever part writes it.
std::vector<float> member_step(const ForecastOutputSpec& s, int64_t id, int lead) {
  std::mt19937 rng(static_cast<unsigned>(id * 100 + lead + 1));
  std::uniform_real_distribution<float> u(-300.0f, 300.0f);
  const size_t n_grid = s.lat.size() * s.lon.size(), c = s.channels.size();
  std::vector<float> v(n_grid * c);
  for (auto& x : v) x = u(rng);
  for (size_t g = static_cast<size_t>(id) % 3; g < n_grid; g += 3)
    v[g * c + 1] = std::numeric_limits<float>::quiet_NaN();
  return v;
}

void write_part(const ForecastOutputSpec& s) {
  NetcdfForecastWriter writer(s);
  for (size_t m = 0; m < s.member_ids.size(); ++m)
    for (int l = 0; l < static_cast<int>(s.lead_hours.size()); ++l)
      writer.write_step(static_cast<int>(m), l, member_step(s, s.member_ids[m], l).data());
  writer.close();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (!(std::isnan(a[i]) && std::isnan(b[i]))) return false;
    } else if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

// Every member of `path` equals member_step of its id, bit for bit.
void check_values(const std::string& path, const ForecastOutputSpec& shape) {
  const ForecastReader reader(path);
  const auto& ids = reader.info().spec.member_ids;
  std::vector<float> back(shape.lat.size() * shape.lon.size() * shape.channels.size());
  for (size_t m = 0; m < ids.size(); ++m)
    for (int l = 0; l < 2; ++l) {
      reader.read_step(static_cast<int>(m), l, back.data());
      INFO("member " << ids[m] << " lead " << l);
      REQUIRE(same_bits(back, member_step(shape, ids[m], l)));
    }
}

std::string merge_error(const MergeOptions& options) {
  try {
    merge_forecasts(options);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

}  // namespace

TEST_CASE("merge: parts of one run become one file, bit for bit, members sorted", "[merge]") {
  TempDir dir;
  const std::string a = dir.file("a.nc"), b = dir.file("b.nc"), out = dir.file("ens.nc");
  write_part(part_spec(a, {2, 0}));
  write_part(part_spec(b, {3, 1}));
  MergeOptions options;
  options.parts = {a, b};
  options.output = out;
  options.command_line = "gencast-run merge a.nc b.nc -o ens.nc";
  const MergeResult r = merge_forecasts(options);
  CHECK(r.members == 4);
  CHECK(r.member_steps == 8);
  CHECK(r.warnings.empty());
  CHECK(r.parts_copied_as_stored == 2);  // same settings: chunks copied, not re-encoded
  const ForecastReader reader(out);
  const ForecastFileInfo& info = reader.info();
  CHECK(info.spec.member_ids == std::vector<int64_t>{0, 1, 2, 3});
  check_values(out, part_spec(a, {}));
  // The run's identity, a history naming the merge first, the model, and a
  // run spec listing the merged members.
  CHECK(info.spec.run_identity == kIdentity);
  CHECK(info.spec.run_fingerprint == parse_run_identity(kIdentity).digest());
  const std::string history = info.attribute("history");
  CHECK(history.find("gencast-run merge a.nc b.nc -o ens.nc") < history.find("gencast-run forecast part"));
  CHECK(info.spec.model_description == "tiny test model");
  CHECK(info.spec.compression == 1);
  const SpecDraft spec = parse_spec_text(SpecText{"merged", info.spec.run_spec_yaml, "/", "/"});
  CHECK(spec.spec.forecast.members == 4);  // member_ids 0..3 are written as members: 4
  CHECK(spec.spec.forecast.member_ids.empty());
  CHECK(spec.spec.output.path == out);
  CHECK(dir.entries() == std::vector<std::string>{"a.nc", "b.nc", "ens.nc"});
}

TEST_CASE("merge: member order, compression and layout options", "[merge]") {
  TempDir dir;
  const std::string a = dir.file("a.nc"), b = dir.file("b.nc");
  ForecastOutputSpec sa = part_spec(a, {0, 1}), sb = part_spec(b, {2});
  sa.compression = sb.compression = 0;
  write_part(sa);
  write_part(sb);
  MergeOptions options;
  options.parts = {b, a};
  options.output = dir.file("ordered.nc");
  options.member_order = {2, 0, 1};
  CHECK(merge_forecasts(options).parts_copied_as_stored == 2);  // uncompressed parts, same output
  const ForecastReader ordered(options.output);
  CHECK(ordered.info().spec.member_ids == std::vector<int64_t>{2, 0, 1});
  CHECK(ordered.info().spec.compression == 0);  // the parts' level by default
  const SpecDraft spec = parse_spec_text(SpecText{"merged", ordered.info().spec.run_spec_yaml, "/", "/"});
  CHECK(spec.spec.forecast.member_ids == std::vector<int64_t>{2, 0, 1});
  check_values(options.output, sa);

  options.output = dir.file("wb2.nc");
  options.member_order.clear();
  options.compression = 3;
  options.layout = OutputLayout::wb2;
  CHECK(merge_forecasts(options).parts_copied_as_stored == 0);  // other settings: decoded
  const ForecastReader wb2(options.output);
  CHECK(wb2.info().spec.layout == OutputLayout::wb2);
  CHECK(wb2.info().spec.ensemble_dim == "number");
  CHECK(wb2.info().spec.compression == 3);
  check_values(options.output, sa);

  // An order that is not the parts' members is a bug of the caller.
  options.output = dir.file("bad.nc");
  options.member_order = {0, 1};
  CHECK_THROWS_AS(merge_forecasts(options), RuntimeFailure);
}

TEST_CASE("merge: parts of different runs or shapes are refused before any output", "[merge]") {
  TempDir dir;
  const std::string a = dir.file("a.nc"), b = dir.file("b.nc"), out = dir.file("ens.nc");
  write_part(part_spec(a, {0, 1}));
  MergeOptions options;
  options.parts = {a, b};
  options.output = out;

  SECTION("another seed") {
    ForecastOutputSpec s = part_spec(b, {2});
    s.run_identity = identity_with("seed", "6");
    write_part(s);
    const std::string e = merge_error(options);
    CHECK_THAT(e, Catch::Contains(a) && Catch::Contains(b) && Catch::Contains("seed: 5 vs 6"));
  }
  SECTION("another checkpoint and step count: every key named") {
    ForecastOutputSpec s = part_spec(b, {2});
    RunFingerprint f = parse_run_identity(kIdentity);
    for (auto& [k, v] : f.items) {
      if (k == "steps") v = "3";
      if (k == "checkpoint") v = "abab";
    }
    s.run_identity = f.text();
    write_part(s);
    const std::string e = merge_error(options);
    CHECK_THAT(e, Catch::Contains("checkpoint: 00ff vs abab") && Catch::Contains("steps: 2 vs 3"));
  }
  SECTION("other lead times under the same identity") {
    ForecastOutputSpec s = part_spec(b, {2});
    s.lead_hours = {12, 36};
    write_part(s);
    CHECK_THAT(merge_error(options), Catch::Contains("lead times") && Catch::Contains(b));
  }
  SECTION("another grid") {
    ForecastOutputSpec s = part_spec(b, {2});
    s.lon.pop_back();
    write_part(s);
    CHECK_THAT(merge_error(options), Catch::Contains("grid"));
  }
  SECTION("a variable missing") {
    ForecastOutputSpec s = part_spec(b, {2});
    s.variables = {"2m_temperature", "temperature"};
    write_part(s);
    CHECK_THAT(merge_error(options), Catch::Contains("variables"));
  }
  SECTION("another layout") {
    ForecastOutputSpec s = part_spec(b, {2});
    s.layout = OutputLayout::wb2;
    write_part(s);
    CHECK_THAT(merge_error(options), Catch::Contains("layout"));
  }
  SECTION("a member in two parts") {
    write_part(part_spec(b, {1, 2}));
    CHECK_THAT(merge_error(options), Catch::Contains("member 1") && Catch::Contains(a) &&
                                         Catch::Contains(b));
  }
  SECTION("a part without a run identity") {
    ForecastOutputSpec s = part_spec(b, {2});
    s.run_identity.clear();
    write_part(s);
    CHECK_THAT(merge_error(options), Catch::Contains(kIdentityAttribute) && Catch::Contains(b));
  }
  SECTION("a file that is not a gencast-run forecast") {
    { std::ofstream(b) << "not netcdf"; }
    CHECK_THAT(merge_error(options), Catch::Contains(b));
  }
  SECTION("a missing part") {
    CHECK_THAT(merge_error(options), Catch::Contains(b) && Catch::Contains("no such file"));
  }
  CHECK(!std::filesystem::exists(out));
  for (const auto& e : dir.entries()) CHECK(e.find("partial") == std::string::npos);
}

TEST_CASE("merge: the output must be new (or --overwrite) and none of the parts", "[merge]") {
  TempDir dir;
  const std::string a = dir.file("a.nc"), b = dir.file("b.nc"), out = dir.file("ens.nc");
  write_part(part_spec(a, {0}));
  write_part(part_spec(b, {1}));
  { std::ofstream(out) << "keep"; }
  MergeOptions options;
  options.parts = {a, b};
  options.output = out;
  CHECK_THAT(merge_error(options), Catch::Contains("--overwrite"));
  options.overwrite = true;
  merge_forecasts(options);
  check_values(out, part_spec(a, {}));
  options.output = dir.path().string() + "/./a.nc";
  CHECK_THAT(merge_error(options), Catch::Contains("none of the parts"));
  options.parts.clear();
  CHECK_THROWS_AS(merge_forecasts(options), InputError);
}

TEST_CASE("merge: parts of different batch sizes merge with a warning and a mixed identity",
          "[merge]") {
  TempDir dir;
  const std::string a = dir.file("a.nc"), b = dir.file("b.nc"), out = dir.file("ens.nc");
  write_part(part_spec(a, {0}));
  ForecastOutputSpec s = part_spec(b, {1});
  s.run_identity = identity_with("batch", "2");
  write_part(s);
  MergeOptions options;
  options.parts = {a, b};
  options.output = out;
  const MergeResult r = merge_forecasts(options);
  REQUIRE(r.warnings.size() == 1);
  CHECK_THAT(r.warnings[0], Catch::Contains("batch: 1 vs 2") && Catch::Contains("tolerance"));
  const ForecastReader reader(out);
  CHECK(identity_value(reader.info().spec.run_identity, "batch") == "mixed 1, 2");
  CHECK(identity_value(reader.info().spec.run_identity, "seed") == "5");
  CHECK(reader.info().spec.run_fingerprint != parse_run_identity(kIdentity).digest());
  check_values(out, part_spec(a, {}));
}

TEST_CASE("merge: BitRounded parts stay BitRounded (the first part's keep_bits)", "[merge]") {
  TempDir dir;
  const std::string a = dir.file("a.nc"), b = dir.file("b.nc"), out = dir.file("ens.nc");
  ForecastOutputSpec sa = part_spec(a, {0}), sb = part_spec(b, {1});
  sa.keep_bits = sb.keep_bits = 9;
  write_part(sa);
  write_part(sb);
  MergeOptions options;
  options.parts = {a, b};
  options.output = out;
  merge_forecasts(options);
  const ForecastReader merged(out), part(a);
  CHECK(merged.info().spec.keep_bits == 9);
  // Rounding rounded values changes nothing: member 0 as stored in its part.
  const size_t n = sa.lat.size() * sa.lon.size() * sa.channels.size();
  std::vector<float> x(n), y(n);
  for (int l = 0; l < 2; ++l) {
    part.read_step(0, l, x.data());
    merged.read_step(0, l, y.data());
    CHECK(same_bits(x, y));
  }
}
