// A self-made demo of any official GenCast size, needing no download: a
// random-weights checkpoint, normalization statistics, an ERA5-like input file
// on the model's grid and a run spec, all in one folder (`gencast-run
// make-demo`). Used by users to try the tool and by the GPU benchmark.
//
// The fields are the tiny reference fixture's synthetic frames
// (tests/data/gencast_tiny/source_tiny.nc, 4 degrees), bilinearly
// interpolated onto the target grid (linear in latitude, periodic in
// longitude), so they are smooth and physically plausible; the statistics are
// the fixture's (per-level scalars, valid for any grid).
//
// Invariants:
//  - Every file appears complete or not at all: make_demo writes to temporary
//    names in the target folder and renames only after everything succeeded;
//    on failure, or on a first Ctrl-C/SIGTERM (runtime/interrupt.h, checked
//    between stages and variables), the temporary files are removed.
//  - Existing files are never overwritten unless DemoOptions::force is set;
//    the refusal happens before anything is written and names every file.
//  - Interpolating onto the fixture's own grid is the identity, bit for bit:
//    a target point on a source point takes that value with weight exactly 1.
//  - Interpolated values never leave the range of the values they come from
//    (convex weights). sea_surface_temperature is NaN exactly where the
//    interpolated land_sea_mask is > 0.5 (land NaNs of the source are filled
//    from neighbouring sea values before interpolating).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gencast {

// Number of latitudes of the equiangular grid (with poles) a preset runs on:
// 181 for 1p0deg and mini (1 degree), 721 for 0p25deg, 46 for tiny (4 degrees).
// InputError (field "--model") for an unknown preset.
int64_t demo_grid_lat_count(const std::string& preset);

// First valid time of every demo input file: 2019-03-29T00:00 UTC, the date of
// the official example inputs.
inline constexpr const char* kDemoStartTime = "2019-03-29T00:00";

// The four statistics files a run needs, in the order they are written.
const std::vector<std::string>& demo_stats_files();

// The folder holding the fixture files a demo is made from:
// demo_root_dir()/tests/data/gencast_tiny (the data folder installed with the
// executable, or $GENCAST_DEMO_DIR). InputError naming the first missing file (the tiny
// source and the four statistics files) with a hint about GENCAST_DEMO_DIR.
std::filesystem::path demo_fixture_dir();

struct DemoSourceOptions {
  int64_t n_lat = 181;      // target grid: n_lat latitudes -90..90, 2(n_lat-1) longitudes from 0
  int64_t frames = 2;       // frames 12 h apart from kDemoStartTime (>= 1)
  int compression = 1;      // zlib level 1-9 of every data variable (0 = none)
};

// Writes an input file in the official layout (dims batch=1, time, level,
// lat, lon; `time` timedelta int64 hours; `datetime(batch, time)` hours since
// the start; statics (lat, lon)) with every variable of `fixture_source`
// interpolated onto the target grid. Output frame k is source frame k while
// the source has it; later frames repeat the source's last two alternately.
// Writes `out_path` directly (make_demo adds the atomic rename) one
// variable and frame at a time, so memory stays low at 0.25 degrees.
// RuntimeFailure when the source is not laid out like the fixture.
void write_demo_source(const std::string& fixture_source, const std::string& out_path,
                       const DemoSourceOptions& options);

// The run spec of a demo folder (YAML with comments): relative paths to the
// demo files, 4 steps, 2 members, output forecast.nc; device cpu for tiny and
// auto otherwise; precision bf16 for 0p25deg, else fp32. `weights_seed` is
// only quoted in the comments.
std::string demo_spec_yaml(const std::string& preset, uint64_t weights_seed);

struct DemoOptions {
  std::string model;        // preset: 1p0deg, 0p25deg, mini or tiny
  std::string dir;          // target folder, created when missing
  uint64_t weights_seed = 0;  // seed of the random weights
  int64_t frames = 2;       // input frames 12 h apart (2 = one initial condition), 2..1000
  bool force = false;       // overwrite existing demo files
};

struct DemoFile {
  std::string path;         // final path
  std::string description;  // what it is, for the summary
  uintmax_t bytes = 0;
};

struct DemoResult {
  std::vector<DemoFile> files;  // in the order written
  std::string spec_path;        // DIR/forecast.yaml
};

// Writes DIR/checkpoint.npz, the four statistics files, DIR/source.nc and
// DIR/forecast.yaml (see the file comment for the guarantees). InputError for
// bad options, existing files without `force`, or missing fixture files.
DemoResult make_demo(const DemoOptions& options);

}  // namespace gencast
