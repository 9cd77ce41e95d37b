// make-demo (io/demo_data.h): the tiny demo reproduces the fixture exactly and
// passes every check a forecast makes; the 1 degree input is a true bilinear
// interpolation (values checked against the formula computed here from the
// fixture, the range of every plane, the land mask); the CLI refuses to
// overwrite without --force and reports bad options with exit code 2.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "core/error.h"
#include "io/netcdf_input.h"
#include "io/netcdf_util.h"
#include "model/checkpoint.h"
#include "model/random_checkpoint.h"
#include "runtime/demo_data.h"
#include "runtime/forecast_runner.h"
#include "spec/spec_loader.h"
#include "unit/test_input_files.h"

using namespace gencast;
using namespace gencast::testing;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kDemoFiles{"checkpoint.npz",     "mean_by_level.nc",
                                          "stddev_by_level.nc", "diffs_stddev_by_level.nc",
                                          "min_by_level.nc",    "source.nc",
                                          "forecast.yaml"};

std::set<std::string> folder_names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<float> read_var(const std::string& path, const std::string& name) {
  NcFile file = NcFile::open_read(path);
  auto var = nc_find_var(file.id(), name);
  REQUIRE(var.has_value());
  return nc_read_all_f32(*var);
}

std::vector<int64_t> read_i64(const std::string& path, const std::string& name) {
  NcFile file = NcFile::open_read(path);
  auto var = nc_find_var(file.id(), name);
  REQUIRE(var.has_value());
  return nc_read_all_i64(*var);
}

std::vector<std::string> data_variables(const std::string& path) {
  NcFile file = NcFile::open_read(path);
  std::vector<std::string> out;
  for (const auto& n : nc_var_names(file.id()))
    if (n != "lat" && n != "lon" && n != "level" && n != "time" && n != "datetime") out.push_back(n);
  return out;
}

// Same NaN positions and bit-identical finite values.
bool same_values(const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return false;
    if (!std::isnan(a[i]) && a[i] != b[i]) return false;
  }
  return true;
}

// Sets an environment variable for one scope and restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

constexpr int64_t kTinyLat = 46, kTinyLon = 90, kLevels = 13;

}  // namespace

TEST_CASE("make-demo tiny: the fixture's model, stats and frames, and a spec that checks out",
          "[demo]") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "demo";  // created by make_demo
  DemoOptions options;
  options.model = "tiny";
  options.dir = dir.string();
  options.weights_seed = 3;
  const DemoResult result = make_demo(options);

  // Exactly the demo files, no temporary leftovers.
  CHECK(folder_names(dir) == std::set<std::string>(kDemoFiles.begin(), kDemoFiles.end()));
  REQUIRE(result.files.size() == kDemoFiles.size());
  for (const auto& f : result.files) CHECK(f.bytes == fs::file_size(f.path));
  CHECK(result.spec_path == (dir / "forecast.yaml").string());

  // Checkpoint: the tiny preset's config and the seed's weights.
  const Checkpoint ckpt = load_checkpoint((dir / "checkpoint.npz").string());
  const ModelConfig expected_config = official_model_config("tiny");
  const auto as_text = [](const ModelConfig& c) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : config_entries(c)) out.emplace_back(e.key, config_value_text(e.value));
    return out;
  };
  CHECK(as_text(ckpt.config) == as_text(expected_config));
  const ParamStore expected_params = random_params(expected_config, 3);
  REQUIRE(ckpt.params.names() == expected_params.names());
  for (const auto& [name, array] : expected_params.arrays()) {
    INFO(name);
    CHECK(ckpt.params.get(name).shape == array.shape);
    CHECK(ckpt.params.get(name).data == array.data);
  }

  // Statistics: byte copies of the fixture's.
  for (const auto& s : demo_stats_files()) CHECK(slurp(dir / s) == slurp(tiny_fixture(s)));

  // Input: interpolation onto the fixture's own grid is the identity, so every
  // variable (inputs, precipitation, statics) equals the fixture's first two
  // frames bit for bit, NaNs included.
  const std::string source = (dir / "source.nc").string();
  const std::string fixture_source = tiny_fixture("source_tiny.nc");
  REQUIRE(data_variables(source) == data_variables(fixture_source));
  for (const auto& name : data_variables(source)) {
    INFO(name);
    const std::vector<float> ours = read_var(source, name);
    const std::vector<float> theirs = read_var(fixture_source, name);
    // Time-varying: (batch=1, time, ...) with time outermost, so the first two
    // frames are a prefix of the fixture's four.
    const bool is_static = name == "land_sea_mask" || name == "geopotential_at_surface";
    CHECK(ours.size() == (is_static ? theirs.size() : theirs.size() / 2));
    CHECK(same_values(ours.data(), theirs.data(), ours.size()));
  }
  CHECK(read_var(source, "lat") == read_var(fixture_source, "lat"));
  CHECK(read_var(source, "lon") == read_var(fixture_source, "lon"));
  CHECK(read_i64(source, "level") == read_i64(fixture_source, "level"));
  CHECK(read_i64(source, "time") == std::vector<int64_t>{0, 12});
  CHECK(read_i64(source, "datetime") == std::vector<int64_t>{0, 12});

  // SST NaN exactly over land (mask > 0.5), in both frames; some of each.
  const std::vector<float> mask = read_var(source, "land_sea_mask");
  const std::vector<float> sst = read_var(source, "sea_surface_temperature");
  size_t land = 0, mismatched = 0;
  for (size_t f = 0; f < 2; ++f)
    for (size_t g = 0; g < mask.size(); ++g) {
      mismatched += std::isnan(sst[f * mask.size() + g]) != (mask[g] > 0.5f);
      land += mask[g] > 0.5f;
    }
  CHECK(mismatched == 0);
  CHECK(land > 0);
  CHECK(land < 2 * mask.size());

  // The reader accepts it and sees the fixture's initial condition.
  const TaskConfig task = default_gencast_task();
  const InputDataset ds = read_input_dataset(source, task);
  const InputDataset fx = read_input_dataset(fixture_source, task, "2019-03-29T12:00");
  CHECK(ds.times_s == fx.times_s);
  CHECK(ds.times_s.front() == parse_iso_time(kDemoStartTime, "start"));
  REQUIRE(ds.fields.size() == fx.fields.size());
  for (const auto& [name, field] : fx.fields) {
    INFO(name);
    REQUIRE(ds.fields.count(name) == 1);
    CHECK(ds.field(name).shape == field.shape);
    CHECK(same_values(ds.field(name).data.data(), field.data.data(), field.data.size()));
  }

  // The spec resolves to the demo files and passes every check on the CPU.
  const RunSpec spec = load_run_spec(dir / "forecast.yaml");
  CHECK(spec.runtime.device == "cpu");
  CHECK(spec.model.precision == Precision::fp32);
  CHECK(spec.forecast.steps == 4);
  CHECK(spec.forecast.members == 2);
  CHECK(fs::equivalent(spec.model.checkpoint, dir / "checkpoint.npz"));
  CHECK(fs::equivalent(spec.model.stats_dir, dir));
  CHECK(fs::equivalent(spec.input.path, source));
  CHECK(fs::path(spec.output.path) == fs::absolute(dir / "forecast.nc").lexically_normal());
  const RunCheck check = check_run(spec);
  for (const auto& p : check.problems) UNSCOPED_INFO(p.to_string());
  CHECK(check.ok());
}

TEST_CASE("demo input: frames beyond the fixture's repeat its last two", "[demo]") {
  TempDir tmp;
  const std::string out = tmp.file("six.nc");
  const std::string fixture_source = tiny_fixture("source_tiny.nc");
  DemoSourceOptions options;
  options.n_lat = kTinyLat;
  options.frames = 6;
  write_demo_source(fixture_source, out, options);
  CHECK(read_i64(out, "time") == std::vector<int64_t>{0, 12, 24, 36, 48, 60});
  CHECK(read_i64(out, "datetime") == std::vector<int64_t>{0, 12, 24, 36, 48, 60});
  const size_t frame = static_cast<size_t>(kLevels * kTinyLat * kTinyLon);
  const std::vector<float> ours = read_var(out, "temperature");
  const std::vector<float> theirs = read_var(fixture_source, "temperature");
  REQUIRE(ours.size() == 6 * frame);
  // Output frames 0..5 come from fixture frames 0, 1, 2, 3, 2, 3.
  const size_t from[6] = {0, 1, 2, 3, 2, 3};
  for (size_t k = 0; k < 6; ++k) {
    INFO("frame " << k);
    CHECK(same_values(ours.data() + k * frame, theirs.data() + from[k] * frame, frame));
  }
  // The latest initial condition is now frame 5 (+60 h).
  const InputDataset ds = read_input_dataset(out, default_gencast_task());
  CHECK(ds.times_s.back() - parse_iso_time(kDemoStartTime, "start") == 60 * 3600);
}

TEST_CASE("demo input at 1 degree: the grid, bilinear values, ranges and the land mask", "[demo]") {
  TempDir tmp;
  const std::string out = tmp.file("one_degree.nc");
  const std::string fixture_source = tiny_fixture("source_tiny.nc");
  DemoSourceOptions options;
  options.n_lat = demo_grid_lat_count("1p0deg");
  REQUIRE(options.n_lat == 181);
  write_demo_source(fixture_source, out, options);
  const int64_t n_lat = 181, n_lon = 360;
  const size_t plane = static_cast<size_t>(n_lat * n_lon);
  const size_t src_plane = static_cast<size_t>(kTinyLat * kTinyLon);

  // Grid: strictly increasing latitudes -90..90, longitudes 0..359.
  const std::vector<float> lat = read_var(out, "lat");
  const std::vector<float> lon = read_var(out, "lon");
  REQUIRE(lat.size() == static_cast<size_t>(n_lat));
  REQUIRE(lon.size() == static_cast<size_t>(n_lon));
  CHECK(lat.front() == -90.0f);
  CHECK(lat.back() == 90.0f);
  for (size_t i = 1; i < lat.size(); ++i) REQUIRE(lat[i] > lat[i - 1]);
  CHECK(lon.front() == 0.0f);
  CHECK(lon.back() == 359.0f);

  // The reader accepts it, with the task's shapes on the new grid.
  const InputDataset ds = read_input_dataset(out, default_gencast_task());
  CHECK(ds.n_lat() == n_lat);
  CHECK(ds.n_lon() == n_lon);
  CHECK(ds.field("temperature").shape == Shape{2, kLevels, n_lat, n_lon});
  CHECK(ds.field("land_sea_mask").shape == Shape{n_lat, n_lon});

  // Every value of every plane lies within the range of the fixture plane it
  // comes from (convex weights never overshoot; the SST's filled land values
  // are averages of sea values, so the sea range bounds it).
  for (const auto& name : data_variables(out)) {
    INFO(name);
    const std::vector<float> ours = read_var(out, name);
    const std::vector<float> theirs = read_var(fixture_source, name);
    const size_t planes = ours.size() / plane;
    REQUIRE(ours.size() == planes * plane);
    for (size_t p = 0; p < planes; ++p) {
      float lo = INFINITY, hi = -INFINITY;
      for (size_t g = 0; g < src_plane; ++g) {
        const float v = theirs[p * src_plane + g];
        if (std::isnan(v)) continue;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      REQUIRE(lo <= hi);
      size_t outside = 0;  // NaN counts as outside (except SST over land)
      for (size_t g = 0; g < plane; ++g) {
        const float v = ours[p * plane + g];
        if (name == "sea_surface_temperature" && std::isnan(v)) continue;
        outside += !(v >= lo && v <= hi);
      }
      INFO("plane " << p << ", range [" << lo << ", " << hi << "]");
      CHECK(outside == 0);
    }
  }

  // SST NaN exactly where the interpolated mask is > 0.5; land and sea both occur.
  const std::vector<float> mask = read_var(out, "land_sea_mask");
  const std::vector<float> sst = read_var(out, "sea_surface_temperature");
  size_t land = 0, mismatched = 0;
  for (size_t f = 0; f < 2; ++f)
    for (size_t g = 0; g < plane; ++g) {
      mismatched += std::isnan(sst[f * plane + g]) != (mask[g] > 0.5f);
      land += mask[g] > 0.5f;
    }
  CHECK(mismatched == 0);
  CHECK(land > 0);
  CHECK(land < 2 * plane);

  // Bilinear values from the formula, computed here from the fixture. Target
  // (lat, lon) = (-90 + i, j) degrees; the fixture's points are 4 degrees
  // apart, so the weights are multiples of 1/4. Cases: both weights 1/2; 1/4
  // and 3/4; a fixture point itself; across the 356 -> 0 longitude seam; the
  // north pole row.
  struct Case {
    int64_t i, j;     // target indices
    int64_t si, sj;   // fixture indices of the lower-left neighbour
    double wy, wx;    // weights of the upper / right neighbour
  };
  const Case cases[] = {{2, 2, 0, 0, 0.5, 0.5},   {1, 3, 0, 0, 0.25, 0.75},
                        {4, 8, 1, 2, 0.0, 0.0},   {91, 358, 22, 89, 0.75, 0.5},
                        {180, 359, 44, 89, 1.0, 0.75}};
  struct Plane {
    const char* name;
    size_t frame, level, levels;
  };
  const Plane planes[] = {{"2m_temperature", 1, 0, 1}, {"temperature", 0, 5, kLevels},
                          {"geopotential_at_surface", 0, 0, 1}};
  for (const auto& pl : planes) {
    const std::vector<float> ours = read_var(out, pl.name);
    const std::vector<float> theirs = read_var(fixture_source, pl.name);
    const size_t p = pl.frame * pl.levels + pl.level;
    for (const auto& c : cases) {
      INFO(pl.name << " target (" << c.i << ", " << c.j << ")");
      const auto src = [&](int64_t si, int64_t sj) {
        return static_cast<double>(theirs[p * src_plane + static_cast<size_t>(si * kTinyLon + sj)]);
      };
      const int64_t sj1 = (c.sj + 1) % kTinyLon;
      const int64_t si1 = std::min<int64_t>(c.si + 1, kTinyLat - 1);
      const double expected =
          (1 - c.wy) * ((1 - c.wx) * src(c.si, c.sj) + c.wx * src(c.si, sj1)) +
          c.wy * ((1 - c.wx) * src(si1, c.sj) + c.wx * src(si1, sj1));
      const double got = ours[p * plane + static_cast<size_t>(c.i * n_lon + c.j)];
      REQUIRE(std::isfinite(got));
      // The library rounds one double result to float32 (relative 6e-8);
      // 1e-6 leaves room for a different order of the same operations.
      CHECK(std::fabs(got - expected) <= 1e-6 * std::fabs(expected));
    }
  }
}

TEST_CASE("demo specs of the official sizes parse with their devices and precisions", "[demo]") {
  TempDir tmp;
  for (const char* preset : {"1p0deg", "0p25deg", "mini", "tiny"}) {
    INFO(preset);
    const fs::path path = tmp.path() / (std::string(preset) + ".yaml");
    std::ofstream(path) << demo_spec_yaml(preset, 0);
    const RunSpec spec = load_run_spec(path);
    const bool tiny = std::string(preset) == "tiny";
    CHECK(spec.runtime.device == (tiny ? "cpu" : "auto"));
    CHECK(spec.model.precision ==
          (std::string(preset) == "0p25deg" ? Precision::bf16 : Precision::fp32));
    CHECK(spec.forecast.steps == 4);
    CHECK(spec.forecast.members == 2);
    CHECK(fs::path(spec.model.checkpoint) == (tmp.path() / "checkpoint.npz").lexically_normal());
    CHECK(fs::path(spec.input.path) == (tmp.path() / "source.nc").lexically_normal());
    CHECK(demo_spec_yaml(preset, 0).find("RANDOM WEIGHTS") != std::string::npos);
  }
  CHECK(demo_grid_lat_count("mini") == 181);
  CHECK(demo_grid_lat_count("0p25deg") == 721);
  CHECK_THROWS_AS(demo_grid_lat_count("2p0deg"), InputError);
}

TEST_CASE("make-demo names bad options and missing fixture files, writing nothing", "[demo]") {
  TempDir tmp;
  DemoOptions options;
  options.model = "tiny";
  options.dir = (tmp.path() / "demo").string();

  options.frames = 1;
  try {
    make_demo(options);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("--frames") != std::string::npos);
  }
  options.frames = 2;

  const fs::path a_file = tmp.path() / "a_file";
  std::ofstream(a_file) << "x";
  DemoOptions on_file = options;
  on_file.dir = a_file.string();
  CHECK_THROWS_AS(make_demo(on_file), InputError);

  {
    ScopedEnv env("GENCAST_DEMO_DIR", (tmp.path() / "empty").string());
    try {
      make_demo(options);
      FAIL("expected an InputError");
    } catch (const InputError& e) {
      const std::string msg = e.what();
      CHECK(msg.find("GENCAST_DEMO_DIR") != std::string::npos);
      CHECK(msg.find("source_tiny.nc") != std::string::npos);
    }
  }
  CHECK_FALSE(fs::exists(tmp.path() / "demo"));
}

TEST_CASE("gencast-run make-demo: refuses to overwrite without --force, then runs", "[demo][cli]") {
  TempDir tmp;
  const fs::path dir = tmp.path() / "demo dir";  // a space: the printed command must quote it
  const std::string dir_arg = " --dir " + shell_quote(dir.string());

  const CliResult first = run_gencast("make-demo --model tiny" + dir_arg);
  INFO(first.all());
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("gencast-run forecast " + shell_quote((dir / "forecast.yaml").string())) !=
        std::string::npos);
  CHECK(first.out.find("random") != std::string::npos);
  const std::string checkpoint = (dir / "checkpoint.npz").string();
  const std::string before = slurp(checkpoint);

  // Second run without --force: exit 2, every existing file named, nothing changed.
  const CliResult again = run_gencast("make-demo --model tiny --seed 9" + dir_arg);
  INFO(again.all());
  CHECK(again.exit_code == 2);
  for (const auto& name : kDemoFiles)
    CHECK(again.err.find((dir / name).string()) != std::string::npos);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(slurp(checkpoint) == before);
  CHECK(folder_names(dir) == std::set<std::string>(kDemoFiles.begin(), kDemoFiles.end()));

  // With --force: replaced by the new seed's weights.
  const CliResult forced = run_gencast("make-demo --model tiny --seed 9 --force" + dir_arg);
  INFO(forced.all());
  REQUIRE(forced.exit_code == 0);
  const ModelConfig config = official_model_config("tiny");
  const ParamStore seed9 = random_params(config, 9);
  const Checkpoint ckpt = load_checkpoint(checkpoint);
  for (const auto& [name, array] : seed9.arrays()) CHECK(ckpt.params.get(name).data == array.data);

  // The printed command runs (shortened to one step and member).
  const CliResult run = run_gencast("forecast " + shell_quote((dir / "forecast.yaml").string()) +
                                    " --steps 1 --members 1");
  INFO(run.all());
  CHECK(run.exit_code == 0);
  CHECK(fs::is_regular_file(dir / "forecast.nc"));

  // One foreign file in the way: refused before anything is written.
  const fs::path other = tmp.path() / "other";
  fs::create_directories(other);
  std::ofstream(other / "forecast.yaml") << "# mine\n";
  const CliResult blocked =
      run_gencast("make-demo --model tiny --dir " + shell_quote(other.string()));
  CHECK(blocked.exit_code == 2);
  CHECK(blocked.err.find((other / "forecast.yaml").string()) != std::string::npos);
  CHECK(folder_names(other) == std::set<std::string>{"forecast.yaml"});
  CHECK(slurp(other / "forecast.yaml") == "# mine\n");

  // Bad options: exit 2 with the option named.
  const CliResult frames = run_gencast("make-demo --model tiny --frames 1 --dir " +
                                       shell_quote((tmp.path() / "f").string()));
  CHECK(frames.exit_code == 2);
  CHECK(frames.err.find("--frames") != std::string::npos);
  const CliResult model = run_gencast("make-demo --model 2p0deg --dir " +
                                      shell_quote((tmp.path() / "m").string()));
  CHECK(model.exit_code == 2);
  CHECK(model.all().find("--model") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp.path() / "f"));
  CHECK_FALSE(fs::exists(tmp.path() / "m"));
}
