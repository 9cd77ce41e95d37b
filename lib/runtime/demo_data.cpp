// The make-demo data: random checkpoint, copied statistics, interpolated
// ERA5-like input and run spec (see demo_data.h for the contract).
#include "runtime/demo_data.h"

#include <netcdf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "config/model_config.h"
#include "core/error.h"
#include "core/parallel.h"
#include "io/cf_metadata.h"
#include "io/netcdf_util.h"
#include "model/random_checkpoint.h"
#include "runtime/interrupt.h"
#include "spec/run_spec.h"

namespace gencast {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMaskVariable = "land_sea_mask";
constexpr const char* kSstVariable = "sea_surface_temperature";
// CF units of `datetime`; its reference time is kDemoStartTime.
constexpr const char* kDatetimeUnits = "hours since 2019-03-29 00:00:00";
constexpr int64_t kHoursPerFrame = 12;
// A typo guard: 1000 frames are 500 days, ~350 GB at 0.25 degrees.
constexpr int64_t kMaxFrames = 1000;
// Coordinates of the source are float32: 1e-4 degrees is far above their
// rounding error and far below any grid spacing.
constexpr double kCoordTolDeg = 1e-4;
constexpr const char* kFixtureSource = "source_tiny.nc";
constexpr const char* kSourceName = "source.nc";
constexpr const char* kCheckpointName = "checkpoint.npz";
constexpr const char* kSpecName = "forecast.yaml";

// ---- the source fixture ------------------------------------------------------

enum class FieldKind { static_field, surface, levels };

// One variable of the source, fully in memory (the fixture is small), with
// land NaNs already filled: [time, (level,) lat, lon] or [lat, lon].
struct SourceVariable {
  std::string name;
  FieldKind kind = FieldKind::surface;
  std::vector<float> data;
};

struct DemoSource {
  std::string path;
  int64_t n_lat = 0, n_lon = 0, n_frames = 0;
  std::vector<int64_t> levels;
  std::vector<SourceVariable> variables;  // file order

  const SourceVariable* find(const std::string& name) const {
    for (const auto& v : variables)
      if (v.name == name) return &v;
    return nullptr;
  }
};

bool is_coordinate(const std::string& name) {
  return name == "lat" || name == "lon" || name == "level" || name == "time" ||
         name == "datetime";
}

std::vector<float> equiangular_lat(int64_t n_lat) {
  std::vector<float> lat(static_cast<size_t>(n_lat));
  const double step = 180.0 / static_cast<double>(n_lat - 1);
  for (int64_t i = 0; i < n_lat; ++i)
    lat[static_cast<size_t>(i)] = static_cast<float>(-90.0 + step * static_cast<double>(i));
  return lat;
}

std::vector<float> equiangular_lon(int64_t n_lon) {
  std::vector<float> lon(static_cast<size_t>(n_lon));
  const double step = 360.0 / static_cast<double>(n_lon);
  for (int64_t i = 0; i < n_lon; ++i)
    lon[static_cast<size_t>(i)] = static_cast<float>(step * static_cast<double>(i));
  return lon;
}

// The interpolation needs the fixture's regular pole-to-pole grid; check it
// rather than trust it, since GENCAST_DEMO_DIR can point anywhere.
void check_source_axes(const std::string& path, const std::vector<double>& lat,
                       const std::vector<double>& lon) {
  const auto expected_lat = equiangular_lat(static_cast<int64_t>(lat.size()));
  const auto expected_lon = equiangular_lon(static_cast<int64_t>(lon.size()));
  bool lat_ok = lat.size() >= 3;
  for (size_t i = 0; lat_ok && i < lat.size(); ++i)
    lat_ok = std::fabs(lat[i] - expected_lat[i]) <= kCoordTolDeg;
  if (!lat_ok)
    fail_input(path, "lat", "ascending equally spaced latitudes from -90 to 90",
               std::to_string(lat.size()) + " other values");
  bool lon_ok = lon.size() == 2 * (lat.size() - 1);
  for (size_t i = 0; lon_ok && i < lon.size(); ++i)
    lon_ok = std::fabs(lon[i] - expected_lon[i]) <= kCoordTolDeg;
  if (!lon_ok)
    fail_input(path, "lon",
               "2 * (n_lat - 1) = " + std::to_string(2 * (lat.size() - 1)) +
                   " equally spaced longitudes from 0",
               std::to_string(lon.size()) + " other values");
}

FieldKind classify_dims(const std::string& path, const NcVarInfo& var) {
  using Dims = std::vector<std::string>;
  if (var.dims == Dims{"lat", "lon"}) return FieldKind::static_field;
  if (var.dims == Dims{"batch", "time", "lat", "lon"}) return FieldKind::surface;
  if (var.dims == Dims{"batch", "time", "level", "lat", "lon"}) return FieldKind::levels;
  fail_input(path, var.name,
             "dims (lat, lon), (batch, time, lat, lon) or (batch, time, level, lat, lon)",
             "dims " + var.dims_string());
}

// Replaces every NaN by the mean of its finite 4-neighbours (longitude
// periodic), pass after pass until none is left: land values of the sea
// surface temperature become a smooth continuation of the nearby sea, inside
// the sea's range, so interpolated coastal sea points stay plausible. Each pass
// reads only the previous pass (the result does not depend on the scan
// order). False when the field holds no finite value at all.
bool fill_nans(float* field, int64_t n_lat, int64_t n_lon) {
  const int64_t n = n_lat * n_lon;
  std::vector<float> previous(field, field + n);
  bool any_nan = std::any_of(previous.begin(), previous.end(), [](float v) { return std::isnan(v); });
  while (any_nan) {
    bool progress = false;
    any_nan = false;
    for (int64_t i = 0; i < n_lat; ++i) {
      for (int64_t j = 0; j < n_lon; ++j) {
        const int64_t k = i * n_lon + j;
        if (!std::isnan(previous[static_cast<size_t>(k)])) continue;
        double sum = 0;
        int count = 0;
        const int64_t neighbours[4] = {i > 0 ? k - n_lon : -1, i + 1 < n_lat ? k + n_lon : -1,
                                       i * n_lon + (j + n_lon - 1) % n_lon,
                                       i * n_lon + (j + 1) % n_lon};
        for (int64_t m : neighbours) {
          if (m < 0) continue;
          const float v = previous[static_cast<size_t>(m)];
          if (std::isnan(v)) continue;
          sum += static_cast<double>(v);
          ++count;
        }
        if (count > 0) {
          field[k] = static_cast<float>(sum / count);
          progress = true;
        } else {
          any_nan = true;
        }
      }
    }
    if (!progress) return false;
    std::copy(field, field + n, previous.begin());
  }
  return true;
}

DemoSource read_source(const std::string& path) {
  NcFile file = NcFile::open_read(path);
  const int ncid = file.id();
  DemoSource src;
  src.path = path;
  const auto need = [&](const char* name) {
    auto var = nc_find_var(ncid, name);
    if (!var) fail_input(path, name, "a coordinate variable '" + std::string(name) + "'", "missing");
    return *var;
  };
  const std::vector<double> lat = nc_read_all_f64(need("lat"));
  const std::vector<double> lon = nc_read_all_f64(need("lon"));
  check_source_axes(path, lat, lon);
  src.n_lat = static_cast<int64_t>(lat.size());
  src.n_lon = static_cast<int64_t>(lon.size());
  src.levels = nc_read_all_i64(need("level"));
  src.n_frames = static_cast<int64_t>(need("time").numel());
  if (src.n_frames < 1) fail_input(path, "time", "at least one frame", "none");
  const int64_t plane = src.n_lat * src.n_lon;

  for (const auto& name : nc_var_names(ncid)) {
    if (is_coordinate(name)) continue;
    const NcVarInfo var = *nc_find_var(ncid, name);
    SourceVariable v;
    v.name = name;
    v.kind = classify_dims(path, var);
    // Dims are fixed by classify_dims; the sizes must be the file's axes.
    const size_t batch = v.kind == FieldKind::static_field ? 1 : var.sizes[0];
    if (batch != 1) fail_input(path, name, "a batch dimension of size 1", std::to_string(batch));
    v.data = nc_read_all_f32(var);
    for (size_t k = 0; k < v.data.size(); k += static_cast<size_t>(plane)) {
      if (!fill_nans(v.data.data() + k, src.n_lat, src.n_lon))
        fail_input(path, name, "some finite values in every field", "a field that is NaN everywhere");
    }
    src.variables.push_back(std::move(v));
  }
  if (src.find(kSstVariable) && !src.find(kMaskVariable))
    fail_input(path, kMaskVariable, "a land-sea mask (it decides where " +
               std::string(kSstVariable) + " is NaN)", "missing");
  return src;
}

// Source frame for output frame k: the same frame while the source has it,
// then its last two alternately (the 12 h cycle continues).
int64_t source_frame(int64_t k, int64_t n_source) {
  if (k < n_source) return k;
  if (n_source < 2) return n_source - 1;
  return n_source - 2 + (k - n_source) % 2;
}

// ---- bilinear interpolation ----------------------------------------------------

// A target coordinate's two neighbours on a source axis and the weight of the
// second one (in [0, 1]).
struct AxisWeight {
  int64_t i0 = 0, i1 = 0;
  double w = 0;
};

std::vector<AxisWeight> lat_weights(const std::vector<float>& target, int64_t n_source) {
  const double step = 180.0 / static_cast<double>(n_source - 1);
  std::vector<AxisWeight> out;
  for (float t : target) {
    const double pos = (static_cast<double>(t) + 90.0) / step;
    const int64_t i0 = std::clamp(static_cast<int64_t>(std::floor(pos)), int64_t{0}, n_source - 2);
    out.push_back({i0, i0 + 1, std::clamp(pos - static_cast<double>(i0), 0.0, 1.0)});
  }
  return out;
}

std::vector<AxisWeight> lon_weights(const std::vector<float>& target, int64_t n_source) {
  const double step = 360.0 / static_cast<double>(n_source);
  std::vector<AxisWeight> out;
  for (float t : target) {
    const double pos = static_cast<double>(t) / step;
    const double base = std::floor(pos);
    const int64_t i0 = ((static_cast<int64_t>(base) % n_source) + n_source) % n_source;
    out.push_back({i0, (i0 + 1) % n_source, pos - base});
  }
  return out;
}

// (1-w) a + w b, taking an endpoint exactly when its weight is 1: this makes
// the identity resampling bit-exact.
double mix(double a, double b, double w) {
  if (w == 0.0) return a;
  if (w == 1.0) return b;
  return (1.0 - w) * a + w * b;
}

// One [lat, lon] source plane onto the target plane.
void resample_plane(const float* src, int64_t src_n_lon, const std::vector<AxisWeight>& lat_w,
                    const std::vector<AxisWeight>& lon_w, float* dst) {
  const int64_t n_lat = static_cast<int64_t>(lat_w.size());
  const int64_t n_lon = static_cast<int64_t>(lon_w.size());
  // Threads pay off only on large planes (0.25 degrees: 1M points): three
  // mixes of ~3 operations per point.
  constexpr int64_t kPointWork = 8;
  parallel_for(
      n_lat,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const AxisWeight& y = lat_w[static_cast<size_t>(i)];
          const float* row0 = src + y.i0 * src_n_lon;
          const float* row1 = src + y.i1 * src_n_lon;
          for (int64_t j = 0; j < n_lon; ++j) {
            const AxisWeight& x = lon_w[static_cast<size_t>(j)];
            const double lower = mix(row0[x.i0], row0[x.i1], x.w);
            const double upper = y.w == 0.0 ? 0.0 : mix(row1[x.i0], row1[x.i1], x.w);
            dst[i * n_lon + j] = static_cast<float>(mix(lower, upper, y.w));
          }
        }
      },
      parallel_min_rows(n_lon * kPointWork));
}

// ---- writing the input file ------------------------------------------------------

void put_float_attr(int ncid, int varid, const char* name, float value) {
  nc_check(nc_put_att_float(ncid, varid, name, NC_FLOAT, 1, &value),
           std::string("writing attribute ") + name);
}

int define_var(int ncid, const std::string& name, nc_type type, const std::vector<int>& dims) {
  int varid = -1;
  nc_check(nc_def_var(ncid, name.c_str(), type, static_cast<int>(dims.size()), dims.data(), &varid),
           "defining variable " + name);
  return varid;
}

void put_cf_attrs(int ncid, int varid, const std::string& name) {
  const auto meta = cf_metadata_for(name);
  if (!meta) return;
  if (!meta->units.empty()) nc_put_text_attr(ncid, varid, "units", meta->units);
  if (!meta->long_name.empty()) nc_put_text_attr(ncid, varid, "long_name", meta->long_name);
  if (!meta->standard_name.empty())
    nc_put_text_attr(ncid, varid, "standard_name", meta->standard_name);
}

// A temporary path per output file, removed unless commit() renamed them all.
class StagedFiles {
 public:
  explicit StagedFiles(fs::path dir) : dir_(std::move(dir)) {}
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles() {
    if (committed_) return;
    std::error_code ec;
    for (const auto& f : files_) fs::remove(f.temp, ec);
  }

  std::string add(const std::string& name, std::string description) {
    const fs::path final_path = dir_ / name;
    const fs::path temp = dir_ / (name + ".partial-" + std::to_string(::getpid()));
    files_.push_back({temp, final_path, std::move(description)});
    return temp.string();
  }

  std::vector<DemoFile> commit() {
    std::vector<DemoFile> out;
    for (const auto& f : files_) {
      std::error_code ec;
      fs::rename(f.temp, f.final_path, ec);
      if (ec)
        throw RuntimeFailure("cannot rename " + f.temp.string() + " to " + f.final_path.string() +
                             ": " + ec.message());
      const uintmax_t bytes = fs::file_size(f.final_path, ec);
      out.push_back({f.final_path.string(), f.description, ec ? 0 : bytes});
    }
    committed_ = true;
    return out;
  }

 private:
  struct Staged {
    fs::path temp, final_path;
    std::string description;
  };
  fs::path dir_;
  std::vector<Staged> files_;
  bool committed_ = false;
};

std::string grid_text(int64_t n_lat) {
  const double step = 180.0 / static_cast<double>(n_lat - 1);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%g degree (%lld x %lld)", step, static_cast<long long>(n_lat),
                static_cast<long long>(2 * (n_lat - 1)));
  return buf;
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw RuntimeFailure("cannot write " + path);
}

}  // namespace

int64_t demo_grid_lat_count(const std::string& preset) {
  if (preset == "1p0deg" || preset == "mini") return 181;
  if (preset == "0p25deg") return 721;
  if (preset == "tiny") return 46;
  fail_input("command line", "--model", "one of 1p0deg, 0p25deg, mini, tiny", "'" + preset + "'");
}

const std::vector<std::string>& demo_stats_files() {
  static const std::vector<std::string> names{"mean_by_level.nc", "stddev_by_level.nc",
                                              "diffs_stddev_by_level.nc", "min_by_level.nc"};
  return names;
}

fs::path demo_fixture_dir() {
  const fs::path dir = demo_root_dir() / "tests" / "data" / "gencast_tiny";
  std::vector<std::string> needed{kFixtureSource};
  for (const auto& s : demo_stats_files()) needed.push_back(s);
  for (const auto& name : needed) {
    std::error_code ec;
    const fs::path p = dir / name;
    if (!fs::is_regular_file(p, ec))
      fail_input(p.string(), "GENCAST_DEMO_DIR",
                 "the tiny reference fixture's " + name + " (make-demo builds its data from it)",
                 "no such file",
                 "reinstall gencast-run (cmake --install puts the fixture under "
                 "share/gencast-run/), or set GENCAST_DEMO_DIR to the source folder (it holds "
                 "tests/data/gencast_tiny/)");
  }
  return dir;
}

void write_demo_source(const std::string& fixture_source, const std::string& out_path,
                       const DemoSourceOptions& options) {
  if (options.n_lat < 3 || options.frames < 1 || options.compression < 0 || options.compression > 9)
    throw std::invalid_argument("write_demo_source: n_lat >= 3, frames >= 1, compression 0..9");
  const DemoSource src = read_source(fixture_source);
  const int64_t n_lat = options.n_lat, n_lon = 2 * (n_lat - 1);
  const size_t plane = static_cast<size_t>(n_lat * n_lon);
  const std::vector<float> lat = equiangular_lat(n_lat);
  const std::vector<float> lon = equiangular_lon(n_lon);
  const auto lat_w = lat_weights(lat, src.n_lat);
  const auto lon_w = lon_weights(lon, src.n_lon);
  const int64_t src_plane = src.n_lat * src.n_lon;
  const int64_t n_levels = static_cast<int64_t>(src.levels.size());

  NcFile file = NcFile::create(out_path);
  const int ncid = file.id();
  int d_batch = -1, d_time = -1, d_level = -1, d_lat = -1, d_lon = -1;
  nc_check(nc_def_dim(ncid, "batch", 1, &d_batch), "defining dimension batch");
  nc_check(nc_def_dim(ncid, "time", static_cast<size_t>(options.frames), &d_time),
           "defining dimension time");
  nc_check(nc_def_dim(ncid, "level", static_cast<size_t>(n_levels), &d_level),
           "defining dimension level");
  nc_check(nc_def_dim(ncid, "lat", static_cast<size_t>(n_lat), &d_lat), "defining dimension lat");
  nc_check(nc_def_dim(ncid, "lon", static_cast<size_t>(n_lon), &d_lon), "defining dimension lon");

  nc_put_text_attr(ncid, NC_GLOBAL, "title", "gencast-run make-demo input (synthetic, ERA5-like)");
  nc_put_text_attr(ncid, NC_GLOBAL, "comment",
                   "NOT real weather data: the smooth synthetic fields of the gencast-run tiny "
                   "reference fixture (4 degree), bilinearly interpolated onto this " +
                       grid_text(n_lat) + " grid.");
  nc_put_text_attr(ncid, NC_GLOBAL, "source", "gencast-run make-demo from " + fixture_source);

  const int v_lat = define_var(ncid, "lat", NC_FLOAT, {d_lat});
  nc_put_text_attr(ncid, v_lat, "units", "degrees_north");
  nc_put_text_attr(ncid, v_lat, "long_name", "latitude");
  nc_put_text_attr(ncid, v_lat, "standard_name", "latitude");
  const int v_lon = define_var(ncid, "lon", NC_FLOAT, {d_lon});
  nc_put_text_attr(ncid, v_lon, "units", "degrees_east");
  nc_put_text_attr(ncid, v_lon, "long_name", "longitude");
  nc_put_text_attr(ncid, v_lon, "standard_name", "longitude");
  const int v_level = define_var(ncid, "level", NC_INT, {d_level});
  nc_put_text_attr(ncid, v_level, "units", "hPa");
  nc_put_text_attr(ncid, v_level, "long_name", "pressure level");
  const int v_time = define_var(ncid, "time", NC_INT64, {d_time});
  nc_put_text_attr(ncid, v_time, "units", "hours");
  // xarray decodes int64 hours into timedelta64 only with this hint, as in
  // the official files.
  nc_put_text_attr(ncid, v_time, "dtype", "timedelta64[ns]");
  nc_put_text_attr(ncid, v_time, "long_name", "time since the first frame");
  const int v_datetime = define_var(ncid, "datetime", NC_INT64, {d_batch, d_time});
  nc_put_text_attr(ncid, v_datetime, "units", kDatetimeUnits);
  nc_put_text_attr(ncid, v_datetime, "calendar", "proleptic_gregorian");
  nc_put_text_attr(ncid, v_datetime, "long_name", "valid time");

  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<int> varids;
  for (const auto& v : src.variables) {
    std::vector<int> dims;
    std::vector<size_t> chunks;  // one chunk = one lat/lon plane
    if (v.kind != FieldKind::static_field) {
      dims = {d_batch, d_time};
      chunks = {1, 1};
    }
    if (v.kind == FieldKind::levels) {
      dims.push_back(d_level);
      chunks.push_back(1);
    }
    dims.insert(dims.end(), {d_lat, d_lon});
    chunks.insert(chunks.end(), {static_cast<size_t>(n_lat), static_cast<size_t>(n_lon)});
    const int varid = define_var(ncid, v.name, NC_FLOAT, dims);
    nc_check(nc_def_var_chunking(ncid, varid, NC_CHUNKED, chunks.data()), "chunking " + v.name);
    if (options.compression > 0)
      nc_check(nc_def_var_deflate(ncid, varid, 1, 1, options.compression), "compressing " + v.name);
    put_float_attr(ncid, varid, "_FillValue", nan);
    put_cf_attrs(ncid, varid, v.name);
    if (v.kind != FieldKind::static_field) nc_put_text_attr(ncid, varid, "coordinates", "datetime");
    varids.push_back(varid);
  }
  nc_check(nc_enddef(ncid), "writing the header of " + out_path);

  nc_check(nc_put_var_float(ncid, v_lat, lat.data()), "writing lat");
  nc_check(nc_put_var_float(ncid, v_lon, lon.data()), "writing lon");
  std::vector<int> levels(src.levels.begin(), src.levels.end());
  if (!levels.empty()) nc_check(nc_put_var_int(ncid, v_level, levels.data()), "writing level");
  std::vector<long long> hours;
  for (int64_t k = 0; k < options.frames; ++k) hours.push_back(k * kHoursPerFrame);
  nc_check(nc_put_var_longlong(ncid, v_time, hours.data()), "writing time");
  nc_check(nc_put_var_longlong(ncid, v_datetime, hours.data()), "writing datetime");

  // The target mask decides where the sea surface temperature is NaN.
  std::vector<float> mask;
  if (const SourceVariable* m = src.find(kMaskVariable)) {
    mask.resize(plane);
    resample_plane(m->data.data(), src.n_lon, lat_w, lon_w, mask.data());
  }

  for (size_t iv = 0; iv < src.variables.size(); ++iv) {
    const SourceVariable& v = src.variables[iv];
    spdlog::debug("make-demo: interpolating {}", v.name);
    const int64_t planes = v.kind == FieldKind::levels ? n_levels : 1;
    std::vector<float> buffer(static_cast<size_t>(planes) * plane);
    const int64_t frames = v.kind == FieldKind::static_field ? 1 : options.frames;
    for (int64_t k = 0; k < frames; ++k) {
      const int64_t sk = v.kind == FieldKind::static_field ? 0 : source_frame(k, src.n_frames);
      for (int64_t p = 0; p < planes; ++p)
        resample_plane(v.data.data() + (sk * planes + p) * src_plane, src.n_lon, lat_w, lon_w,
                       buffer.data() + static_cast<size_t>(p) * plane);
      if (v.name == kSstVariable)
        for (int64_t p = 0; p < planes; ++p)
          for (size_t g = 0; g < plane; ++g)
            if (mask[g] > 0.5f) buffer[static_cast<size_t>(p) * plane + g] = nan;
      std::vector<size_t> start, count;
      if (v.kind != FieldKind::static_field) {
        start = {0, static_cast<size_t>(k)};
        count = {1, 1};
      }
      if (v.kind == FieldKind::levels) {
        start.push_back(0);
        count.push_back(static_cast<size_t>(n_levels));
      }
      start.insert(start.end(), {0, 0});
      count.insert(count.end(), {static_cast<size_t>(n_lat), static_cast<size_t>(n_lon)});
      nc_check(nc_put_vara_float(ncid, varids[iv], start.data(), count.data(), buffer.data()),
               "writing " + v.name + " to " + out_path);
      // Ctrl-C stops here (the 0.25 degree file takes a while); the caller
      // removes the unfinished file.
      throw_if_interrupted();
    }
  }
  file.close();
}

std::string demo_spec_yaml(const std::string& preset, uint64_t weights_seed) {
  const int64_t n_lat = demo_grid_lat_count(preset);
  const bool tiny = preset == "tiny";
  const std::string device = tiny ? "cpu" : kAutoDevice;
  const std::string precision = preset == "0p25deg" ? "bf16" : "fp32";
  std::string y;
  y += "# gencast-run demo: the GenCast " + preset + " architecture with RANDOM WEIGHTS.\n";
  y += "#\n";
  y += "# Written by `gencast-run make-demo --model " + preset + " --seed " +
       std::to_string(weights_seed) + "`. Everything in this folder is synthetic:\n";
  y += "#   checkpoint.npz  random weights of the official " + preset +
       " size (seed " + std::to_string(weights_seed) + "),\n";
  y += "#                   not a trained model: the forecast has NO meteorological value.\n";
  y += "#                   It runs the whole pipeline at the real cost (benchmarks, smoke tests).\n";
  y += "#   *_by_level.nc   synthetic normalization statistics (the tiny reference fixture's)\n";
  y += "#   source.nc       ERA5-like initial conditions on the " + grid_text(n_lat) +
       " grid:\n";
  y += "#                   the fixture's smooth synthetic fields, bilinearly interpolated\n";
  y += "#\n";
  y += "# Run it:  gencast-run forecast forecast.yaml   (from this folder)\n";
  if (!tiny)
    y += "# Without a GPU, auto refuses this size with the expected CPU time; add\n"
         "# --device cpu --precision fp32 to run on the CPU anyway (slow).\n";
  y += "# Relative paths below resolve against this file's folder.\n";
  y += "model:\n";
  y += "  checkpoint: " + std::string(kCheckpointName) + "\n";
  y += "  stats_dir: .                   # mean/stddev/diffs_stddev/min_by_level.nc\n";
  y += "  attention: auto                # auto | triblockdiag | sparse | dense (all exact)\n";
  y += "  precision: " + precision +
       std::string(precision == "bf16" ? "                # bf16 matmuls: the fast GPU path\n"
                                       : "                # fp32 | tf32 | bf16\n");
  y += "input:\n";
  y += "  path: " + std::string(kSourceName) + "\n";
  y += "  init_time: \"\"                  # \"\" = latest time with the frame 12 h earlier\n";
  y += "forecast:\n";
  y += "  steps: 4                       # 12 h steps: a 48 h forecast\n";
  y += "  members: 2                     # ensemble members 0 and 1\n";
  y += "  seed: 0                        # run seed (unsigned 64-bit)\n";
  y += "output:\n";
  y += "  path: forecast.nc\n";
  y += "  layout: predictions            # predictions | wb2\n";
  y += "  compression: 1                 # zlib level 0-9\n";
  y += "  overwrite: true                # re-running the demo replaces its forecast\n";
  y += "runtime:\n";
  y += "  device: " + device +
       (tiny ? "\n" : "                   # auto (first usable GPU) | cpu | cuda:N\n");
  y += "  edge_cache: auto\n";
  return y;
}

DemoResult make_demo(const DemoOptions& options) {
  const int64_t n_lat = demo_grid_lat_count(options.model);
  if (options.frames < 2 || options.frames > kMaxFrames)
    fail_input("command line", "--frames",
               "an integer from 2 to " + std::to_string(kMaxFrames) +
                   " (2 = one initial condition: t-12h and t)",
               std::to_string(options.frames));
  if (options.dir.empty()) fail_input("command line", "--dir", "a folder path", "an empty string");
  const ModelConfig config = official_model_config(options.model);
  const fs::path dir(options.dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    fail_input(options.dir, "--dir", "a folder (created when missing)", "a file");
  const fs::path fixture = demo_fixture_dir();

  // Refuse before writing anything, naming every file in the way.
  std::vector<std::string> names{kCheckpointName};
  for (const auto& s : demo_stats_files()) names.push_back(s);
  names.push_back(kSourceName);
  names.push_back(kSpecName);
  ProblemList problems;
  for (const auto& name : names) {
    const fs::path p = dir / name;
    if (fs::is_directory(p, ec)) {
      problems.add(p.string(), "output file", "a file name free for the demo", "a folder");
    } else if (fs::exists(p, ec) && !options.force) {
      problems.add(p.string(), "output file",
                   "a path not in use (make-demo overwrites files only with --force)",
                   "an existing file",
                   "pass --force to replace the demo files, or choose another --dir");
    }
  }
  problems.throw_if_any();

  fs::create_directories(dir, ec);
  if (ec) fail_input(options.dir, "--dir", "a folder that can be created", ec.message());
  {
    const fs::path probe = dir / (".gencast-run-probe-" + std::to_string(::getpid()));
    std::ofstream out(probe);
    const bool writable = static_cast<bool>(out);
    out.close();
    fs::remove(probe, ec);
    if (!writable) fail_input(options.dir, "--dir", "a writable folder", "not writable");
  }

  // The first Ctrl-C stops at the next stage boundary and the staged files are
  // removed, instead of killing the process with temporary files left behind.
  install_interrupt_handlers();
  StagedFiles staged(dir);
  const std::string checkpoint =
      staged.add(kCheckpointName, "random weights, GenCast " + options.model + " architecture (seed " +
                                      std::to_string(options.weights_seed) + ")");
  spdlog::info("make-demo: drawing random weights for the {} model (seed {})", options.model,
               options.weights_seed);
  write_checkpoint(checkpoint, config, random_params(config, options.weights_seed));
  throw_if_interrupted();

  for (const auto& s : demo_stats_files()) {
    const std::string temp = staged.add(s, "normalization statistics (synthetic)");
    fs::copy_file(fixture / s, temp, fs::copy_options::overwrite_existing, ec);
    if (ec) throw RuntimeFailure("cannot copy " + (fixture / s).string() + ": " + ec.message());
  }

  const std::string source = staged.add(
      kSourceName, "ERA5-like input, " + grid_text(n_lat) + ", " + std::to_string(options.frames) +
                       " frames 12 h apart from " + kDemoStartTime);
  spdlog::info("make-demo: writing the input file on the {} grid", grid_text(n_lat));
  DemoSourceOptions source_options;
  source_options.n_lat = n_lat;
  source_options.frames = options.frames;
  write_demo_source((fixture / kFixtureSource).string(), source, source_options);

  throw_if_interrupted();
  const std::string spec = staged.add(kSpecName, "run spec");
  write_text_file(spec, demo_spec_yaml(options.model, options.weights_seed));

  DemoResult result;
  result.files = staged.commit();
  result.spec_path = (dir / kSpecName).string();
  return result;
}

}  // namespace gencast
