// ERA5-style input reader: resolves the file layout (axes, levels, times),
// collects every problem, then reads only the input frames (see netcdf_input.h).
#include "io/netcdf_input.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "config/variables.h"
#include "core/text.h"
#include "io/input_values.h"
#include "io/netcdf_plane_reads.h"

namespace gencast {
namespace {

// Tolerance on coordinate values in degrees: coordinates are stored as
// float32 (about 1e-5 degrees of rounding at 360), far below any grid step.
constexpr double kCoordTolDeg = 1e-3;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string times_text(const std::vector<int64_t>& times) { return input_times_text(times); }

std::string levels_text(const std::vector<double>& levels) {
  std::string out;
  for (size_t i = 0; i < levels.size(); ++i) {
    const double v = levels[i];
    if (i) out += " ";
    out += v == std::floor(v) ? std::to_string(static_cast<int64_t>(v)) : fmt(v);
  }
  return out;
}

std::string levels_text(const std::vector<int64_t>& levels) { return join_numbers(levels); }


// Names of the horizontal axes in the file: "lat"/"lon" as in DeepMind's
// files, or "latitude"/"longitude" as in WeatherBench2 exports.
struct AxisNames {
  std::string lat = "lat", lon = "lon";
};

AxisNames resolve_axes(int ncid) {
  AxisNames a;
  if (!nc_find_var(ncid, "lat") && nc_find_var(ncid, "latitude")) a.lat = "latitude";
  if (!nc_find_var(ncid, "lon") && nc_find_var(ncid, "longitude")) a.lon = "longitude";
  return a;
}

// How the file's horizontal grid maps onto the normalised one.
struct GridMap {
  AxisNames axes;
  bool ok = false;
  size_t n_lat = 0, n_lon = 0;
  bool flip_lat = false;  // file latitude descends
  size_t lon_shift = 0;   // normalised lon index i reads file index (i + shift) % n_lon
  std::vector<float> lat, lon;  // normalised coordinates
};

// A 1-D coordinate variable over the dimension of the same name.
std::optional<NcVarInfo> find_coordinate(int ncid, const std::string& path,
                                         const std::string& name, ProblemList& problems) {
  auto var = nc_find_var(ncid, name);
  if (!var) {
    problems.add(path, name, "a 1-D coordinate variable '" + name + "'", "missing");
    return std::nullopt;
  }
  if (var->dims != std::vector<std::string>{name}) {
    problems.add(path, name, "dims (" + name + ")", "dims " + var->dims_string());
    return std::nullopt;
  }
  return var;
}

// Checks that `v` is an arithmetic progression within kCoordTolDeg.
bool is_regular(const std::vector<double>& v, double step) {
  for (size_t i = 1; i < v.size(); ++i)
    if (std::fabs((v[i] - v[i - 1]) - step) > kCoordTolDeg) return false;
  return true;
}

GridMap read_grid(int ncid, const std::string& path, ProblemList& problems) {
  GridMap g;
  g.axes = resolve_axes(ncid);
  const std::string& lat_name = g.axes.lat;
  const std::string& lon_name = g.axes.lon;
  const size_t before = problems.size();
  auto lat_var = find_coordinate(ncid, path, lat_name, problems);
  auto lon_var = find_coordinate(ncid, path, lon_name, problems);
  if (!lat_var || !lon_var) return g;
  std::vector<double> lat = nc_read_all_f64(*lat_var);
  std::vector<double> lon = nc_read_all_f64(*lon_var);
  const std::vector<float> lat_f = nc_read_all_f32(*lat_var);
  const std::vector<float> lon_f = nc_read_all_f32(*lon_var);
  g.n_lat = lat.size();
  g.n_lon = lon.size();

  // Latitude: strictly monotonic, regular, from pole to pole.
  if (g.n_lat < 3) {
    problems.add(path, lat_name, "at least 3 latitudes", std::to_string(g.n_lat));
  } else {
    g.flip_lat = lat.front() > lat.back();
    if (g.flip_lat) std::reverse(lat.begin(), lat.end());
    bool monotonic = true;
    for (size_t i = 1; i < lat.size(); ++i)
      if (!(lat[i] > lat[i - 1])) monotonic = false;
    if (!monotonic) {
      problems.add(path, lat_name, "strictly increasing or strictly decreasing latitudes",
                   "a non-monotonic sequence");
    } else {
      const double step = (lat.back() - lat.front()) / static_cast<double>(g.n_lat - 1);
      if (!is_regular(lat, step))
        problems.add(path, lat_name, "equally spaced latitudes", "irregular spacing");
      else if (std::fabs(lat.front() + 90.0) > kCoordTolDeg ||
               std::fabs(lat.back() - 90.0) > kCoordTolDeg)
        problems.add(path, lat_name, "latitudes from -90 to 90 (equiangular grid with poles)",
                     "from " + fmt(lat.front()) + " to " + fmt(lat.back()));
    }
  }

  // Longitude: n_lon = 2 (n_lat - 1), increasing by 360 / n_lon, including 0 (mod 360).
  if (g.n_lat >= 3 && g.n_lon != 2 * (g.n_lat - 1)) {
    problems.add(path, lon_name,
                 "n_lon = 2 * (n_lat - 1) = " + std::to_string(2 * (g.n_lat - 1)) + " for " +
                     std::to_string(g.n_lat) + " latitudes (equiangular grid with poles)",
                 std::to_string(g.n_lon) + " longitudes");
  } else if (g.n_lon >= 2) {
    const double step = 360.0 / static_cast<double>(g.n_lon);
    if (!(lon[1] > lon[0]) || !is_regular(lon, step)) {
      problems.add(path, lon_name,
                   "increasing longitudes every " + fmt(step) + " degrees (0..360 or -180..180)",
                   "from " + fmt(lon.front()) + " to " + fmt(lon.back()) +
                       (lon[1] > lon[0] ? " with irregular spacing" : " decreasing"));
    } else {
      bool found_zero = false;
      for (size_t i = 0; i < g.n_lon; ++i) {
        const double wrapped = std::fmod(std::fmod(lon[i], 360.0) + 360.0, 360.0);
        if (std::min(wrapped, 360.0 - wrapped) < kCoordTolDeg) {
          g.lon_shift = i;
          found_zero = true;
          break;
        }
      }
      if (!found_zero)
        problems.add(path, lon_name, "a longitude at 0 degrees",
                     "from " + fmt(lon.front()) + " to " + fmt(lon.back()));
    }
  }
  if (problems.size() != before) return g;

  for (size_t i = 0; i < g.n_lat; ++i) g.lat.push_back(lat_f[g.flip_lat ? g.n_lat - 1 - i : i]);
  for (size_t i = 0; i < g.n_lon; ++i) {
    float v = lon_f[(i + g.lon_shift) % g.n_lon];
    v = std::fmod(v, 360.0f);
    if (v < 0.0f) v += 360.0f;
    if (v >= 360.0f - static_cast<float>(kCoordTolDeg)) v = 0.0f;  // 360 itself is 0
    g.lon.push_back(v);
  }
  g.ok = true;
  return g;
}

// File positions of the task's levels; empty + problem when some are missing.
std::vector<size_t> read_levels(int ncid, const std::string& path, const TaskConfig& task,
                                ProblemList& problems, bool& ok) {
  ok = false;
  auto var = find_coordinate(ncid, path, "level", problems);
  if (!var) return {};
  const std::vector<double> file_levels = nc_read_all_f64(*var);
  std::vector<size_t> pos;
  std::vector<int64_t> missing;
  for (int64_t want : task.pressure_levels) {
    auto it = std::find_if(file_levels.begin(), file_levels.end(), [&](double v) {
      return std::fabs(v - static_cast<double>(want)) < 1e-6;
    });
    if (it == file_levels.end()) {
      missing.push_back(want);
    } else {
      pos.push_back(static_cast<size_t>(it - file_levels.begin()));
    }
  }
  if (!missing.empty()) {
    problems.add(path, "level",
                 "the " + std::to_string(task.pressure_levels.size()) +
                     " task pressure levels (hPa): " + levels_text(task.pressure_levels),
                 std::to_string(file_levels.size()) + " levels (" + levels_text(file_levels) +
                     "), missing " + levels_text(missing),
                 "GenCast needs every task level; re-export the file with these levels");
    return {};
  }
  ok = true;
  return pos;
}

// Unix seconds of every entry of the time dimension, from `time` when it is a
// datetime, else from the `datetime` coordinate. nullopt (+ problem) on failure.
std::optional<std::vector<int64_t>> read_times(int ncid, const std::string& path,
                                               ProblemList& problems) {
  auto time_var = nc_find_var(ncid, "time");
  const auto time_len = nc_dim_length(ncid, "time");
  if (!time_len) {
    problems.add(path, "time", "a 'time' dimension", "missing");
    return std::nullopt;
  }
  using Seconds = std::vector<int64_t>;
  auto decode = [&](const NcVarInfo& var) -> std::optional<Seconds> {
    const auto units_text = nc_text_attr(var.ncid, var.varid, "units");
    const auto units = units_text ? parse_cf_time_units(*units_text) : std::nullopt;
    if (!units || !units->is_datetime) {
      problems.add(path, var.name + ":units",
                   "CF datetime units such as \"hours since 2019-03-29 00:00:00\"",
                   units_text ? "\"" + *units_text + "\"" : "no units attribute");
      return std::nullopt;
    }
    const std::string calendar = nc_text_attr(var.ncid, var.varid, "calendar").value_or("");
    if (!is_gregorian_calendar(calendar)) {
      problems.add(path, var.name + ":calendar",
                   "standard, gregorian or proleptic_gregorian", "\"" + calendar + "\"");
      return std::nullopt;
    }
    std::vector<int64_t> seconds = nc_read_time_seconds(var, *units);
    // A (batch, time) datetime: the batch is 1 (checked with the fields), keep batch 0.
    if (seconds.size() > *time_len) seconds.resize(*time_len);
    if (std::any_of(seconds.begin(), seconds.end(),
                    [](int64_t s) { return s == std::numeric_limits<int64_t>::min(); })) {
      problems.add(path, var.name, "finite times", "missing or non-finite values");
      return std::nullopt;
    }
    return seconds;
  };

  if (time_var) {
    const auto units_text = nc_text_attr(time_var->ncid, time_var->varid, "units");
    const auto units = units_text ? parse_cf_time_units(*units_text) : std::nullopt;
    if (units && units->is_datetime) {
      if (time_var->dims != std::vector<std::string>{"time"}) {
        problems.add(path, "time", "dims (time)", "dims " + time_var->dims_string());
        return std::nullopt;
      }
      return decode(*time_var);
    }
  }
  auto dt = nc_find_var(ncid, "datetime");
  if (!dt) {
    problems.add(path, "datetime",
                 "a 'datetime' coordinate (batch, time) with CF units such as \"hours since "
                 "2019-03-29 00:00:00\" (or 'time' itself stored as CF datetimes)",
                 "missing",
                 "the forcings (year/day progress) are computed from the absolute time");
    return std::nullopt;
  }
  const bool dims_ok = dt->dims == std::vector<std::string>{"time"} ||
                       dt->dims == std::vector<std::string>{"batch", "time"};
  if (!dims_ok) {
    problems.add(path, "datetime", "dims (batch, time) or (time)", "dims " + dt->dims_string());
    return std::nullopt;
  }
  return decode(*dt);
}

// Positions (in the file's time axis) of the input frames, oldest first.
std::optional<std::vector<size_t>> select_frames(const std::vector<int64_t>& times, int n_frames,
                                                 const std::string& init_time,
                                                 const std::string& path,
                                                 ProblemList& problems) {
  std::optional<int64_t> init_index;
  problems.collect([&] { init_index = select_init_index(times, n_frames, init_time, path); });
  if (!init_index) return std::nullopt;
  std::vector<size_t> frames;
  const int64_t init_s = times[static_cast<size_t>(*init_index)];
  for (int k = n_frames - 1; k >= 0; --k) {
    const int64_t want = init_s - k * kModelStepSeconds;
    frames.push_back(static_cast<size_t>(std::find(times.begin(), times.end(), want) -
                                         times.begin()));
  }
  return frames;
}

// Where each normalised (frame, level) slab comes from in the file, per variable.
struct ReadPlan {
  const GridMap* grid = nullptr;
  std::vector<size_t> frames;  // file time positions, oldest first
  std::vector<size_t> levels;  // file level positions, task order
};

// A ReadPlan with its grid, kept beyond read_opened for the fields read
// after it (NetcdfPlaneReads' fallbacks).
struct OwnedReadPlan {
  GridMap grid;
  std::vector<size_t> frames, levels;
  ReadPlan plan() const { return ReadPlan{&grid, frames, levels}; }
};

// Checks a variable's dims; returns false (with a problem) when unusable.
bool check_var_dims(const NcVarInfo& var, const std::string& path, const AxisNames& axes,
                    bool is_static, bool levels, ProblemList& problems) {
  std::vector<std::string> expected;
  if (!is_static) {
    expected = {"batch", "time"};
    if (levels) expected.push_back("level");
  }
  expected.push_back(axes.lat);
  expected.push_back(axes.lon);
  std::string expected_text = "dims (";
  for (size_t i = 0; i < expected.size(); ++i) {
    if (i) expected_text += ", ";
    expected_text += expected[i] == "batch" ? "[batch]" : expected[i];
  }
  expected_text += is_static ? ")" : ") in any order, [batch] optional and of size 1";

  bool ok = true;
  for (const auto& required : expected)
    if (required != "batch" && var.dim_index(required) < 0) ok = false;
  for (size_t i = 0; i < var.dims.size(); ++i) {
    const std::string& d = var.dims[i];
    const bool allowed = std::find(expected.begin(), expected.end(), d) != expected.end() ||
                         (is_static && (d == "batch" || d == "time"));
    if (!allowed) ok = false;
    if (d == "batch" && var.sizes[i] != 1) {
      problems.add(path, var.name, "a batch dimension of size 1",
                   "batch size " + std::to_string(var.sizes[i]),
                   "split the file into one file per initial condition");
      return false;
    }
  }
  if (!ok) problems.add(path, var.name, expected_text, "dims " + var.dims_string());
  return ok;
}

// The plane layout of `var` in the model's grid.
PlaneLayout plane_layout(const NcVarInfo& var, const GridMap& g) {
  PlaneLayout l;
  l.n_lat = g.n_lat;
  l.n_lon = g.n_lon;
  l.flip_lat = g.flip_lat;
  l.lon_shift = g.lon_shift;
  l.lat_first = var.dim_index(g.axes.lat) < var.dim_index(g.axes.lon);
  return l;
}

// One variable's field in its normalised layout, [time,] [level,] lat, lon:
// allocated, and each of its planes handed to `plane(start, dst)` with the
// variable's start indices of that plane.
template <class PlaneFn>
ArrayF for_each_plane(const NcVarInfo& var, const ReadPlan& plan, bool is_static, PlaneFn&& plane) {
  const GridMap& g = *plan.grid;
  const size_t n_lat = g.n_lat, n_lon = g.n_lon;
  const int time_dim = var.dim_index("time"), level_dim = var.dim_index("level");

  const size_t n_t = is_static ? 1 : plan.frames.size();
  const size_t n_l = level_dim >= 0 ? plan.levels.size() : 1;
  Shape shape;
  if (!is_static) shape.push_back(static_cast<int64_t>(n_t));
  if (level_dim >= 0) shape.push_back(static_cast<int64_t>(n_l));
  shape.push_back(static_cast<int64_t>(n_lat));
  shape.push_back(static_cast<int64_t>(n_lon));
  ArrayF out(shape);

  std::vector<size_t> start(var.dims.size(), 0);
  for (size_t t = 0; t < n_t; ++t) {
    // A static with a time dim: any frame will do, take the initialisation frame.
    if (time_dim >= 0) start[static_cast<size_t>(time_dim)] = is_static ? plan.frames.back()
                                                                        : plan.frames[t];
    for (size_t l = 0; l < n_l; ++l) {
      if (level_dim >= 0) start[static_cast<size_t>(level_dim)] = plan.levels[l];
      plane(start, out.ptr() + (t * n_l + l) * n_lat * n_lon);
    }
  }
  return out;
}

// Reads one variable into its normalised layout through netCDF.
ArrayF read_field(const NcVarInfo& var, const ReadPlan& plan, bool is_static) {
  const GridMap& g = *plan.grid;
  const PlaneLayout layout = plane_layout(var, g);
  std::vector<float> slab(g.n_lat * g.n_lon);
  std::vector<size_t> count(var.dims.size(), 1);
  count[static_cast<size_t>(var.dim_index(g.axes.lat))] = g.n_lat;
  count[static_cast<size_t>(var.dim_index(g.axes.lon))] = g.n_lon;
  return for_each_plane(var, plan, is_static, [&](const std::vector<size_t>& start, float* dst) {
    nc_read_f32(var, start, count, slab.data());
    layout.to_grid(slab.data(), dst);
  });
}

// Allocates one variable's field and queues its planes on `reads`.
ArrayF queue_field(const NcVarInfo& var, const ReadPlan& plan, bool is_static,
                   NetcdfPlaneReads& reads) {
  const GridMap& g = *plan.grid;
  const PlaneLayout layout = plane_layout(var, g);
  const int lat_dim = var.dim_index(g.axes.lat), lon_dim = var.dim_index(g.axes.lon);
  return for_each_plane(var, plan, is_static, [&](const std::vector<size_t>& start, float* dst) {
    reads.add(var, start, lat_dim, lon_dim, layout, dst);
  });
}

// read_collecting's work on the open file: grid, levels, times, then the
// fields of the input frames, every problem recorded. Fields that
// NetcdfPlaneReads can read are only allocated and queued on `reads` (their
// names in `queued`, their values checked after the reads).
void read_opened(int ncid, const std::string& path, const TaskConfig& task,
                 const std::string& init_time, int n_frames, InputDataset& ds,
                 ProblemList& problems, NetcdfPlaneReads& reads, std::vector<std::string>& queued,
                 OwnedReadPlan& owned) {
  const GridMap& grid = owned.grid = read_grid(ncid, path, problems);

  const std::vector<std::string> varying = time_varying_inputs(task);
  bool levels_ok = true;
  std::vector<size_t> level_pos;
  if (std::any_of(varying.begin(), varying.end(), has_levels))
    level_pos = read_levels(ncid, path, task, problems, levels_ok);

  std::optional<std::vector<size_t>> frames;
  if (auto times = read_times(ncid, path, problems)) {
    frames = select_frames(*times, n_frames, init_time, path, problems);
    if (frames)
      for (size_t f : *frames) ds.times_s.push_back((*times)[f]);
  }

  owned.frames = frames.value_or(std::vector<size_t>{});
  owned.levels = level_pos;
  const ReadPlan plan = owned.plan();
  const bool can_read = grid.ok && levels_ok && frames.has_value();

  std::vector<std::string> wanted = varying;
  for (const auto& v : task.input_variables)
    if (is_static_variable(v)) wanted.push_back(v);
  std::string wanted_text;
  for (const auto& w : wanted) {
    if (!wanted_text.empty()) wanted_text += ", ";
    wanted_text += w;
  }
  for (const auto& name : wanted) {
    const bool is_static = is_static_variable(name);
    auto var = nc_find_var(ncid, name);
    if (!var) {
      problems.add(path, name, "an input variable of the model", "missing",
                   "the file must hold every input variable: " + wanted_text);
      continue;
    }
    if (!check_var_dims(*var, path, grid.axes, is_static, has_levels(name), problems)) continue;
    if (!can_read) continue;
    if (NetcdfPlaneReads::eligible(*var, ncid, var->dim_index(grid.axes.lat),
                                   var->dim_index(grid.axes.lon))) {
      ds.fields[name] = queue_field(*var, plan, is_static, reads);
      queued.push_back(name);
      continue;
    }
    ArrayF field;
    if (!nc_collect_read(path, name, problems, [&] { field = read_field(*var, plan, is_static); }))
      continue;

    check_input_values(path, name, field, ds.times_s, problems);
    ds.fields[name] = std::move(field);
  }

  if (can_read) {
    ds.lat = grid.lat;
    ds.lon = grid.lon;
    ds.levels = task.pressure_levels;
  }
}

// The shared reader: collects every problem; the returned dataset is only
// meaningful when no problem was added.
InputDataset read_collecting(const std::string& path, const TaskConfig& task,
                             const std::string& init_time, ProblemList& problems) {
  InputDataset ds;
  ds.path = path;
  int n_frames = 0;
  problems.collect([&] {
    check_task_supported(task);
    n_frames = static_cast<int>(input_frame_count(task));
  });
  if (n_frames == 0) return ds;

  std::optional<NcFile> file;
  problems.collect([&] { file.emplace(NcFile::open_read(path)); });
  if (!file) return ds;
  NetcdfPlaneReads reads;
  std::vector<std::string> queued;
  OwnedReadPlan queued_plan;
  // A library failure outside a field read (coordinates, attributes) names the file.
  nc_collect_read(path, "", problems, [&] {
    read_opened(file->id(), path, task, init_time, n_frames, ds, problems, reads, queued,
                queued_plan);
  });
  if (queued.empty()) return ds;
  // The queued planes, on every core, with netCDF's handle closed; what
  // cannot be read that way is read again through netCDF, which reports the
  // problem as it sees it.
  file.reset();
  const std::vector<std::string> again = reads.run(path);
  if (!again.empty())
    spdlog::debug("{}: {} read again through netCDF (their stored chunks did not decode here)",
                  path, join(again));
  if (!again.empty()) {
    problems.collect([&] { file.emplace(NcFile::open_read(path)); });
    if (!file) return ds;
    for (const std::string& name : again) {
      const auto var = nc_find_var(file->id(), name);
      if (!var) continue;
      nc_collect_read(path, name, problems, [&] {
        ds.fields[name] = read_field(*var, queued_plan.plan(), is_static_variable(name));
      });
    }
  }
  for (const std::string& name : queued) {
    const auto it = ds.fields.find(name);
    if (it != ds.fields.end()) check_input_values(path, name, it->second, ds.times_s, problems);
  }
  return ds;
}

}  // namespace

const ArrayF& InputDataset::field(const std::string& name) const {
  auto it = fields.find(name);
  if (it == fields.end()) throw RuntimeFailure(path + ": input field " + name + " not loaded");
  return it->second;
}

int64_t select_init_index(const std::vector<int64_t>& times_s, int n_frames,
                          const std::string& init_time, const std::string& path) {
  auto has_history = [&](int64_t t) {
    for (int k = 1; k < n_frames; ++k)
      if (std::find(times_s.begin(), times_s.end(), t - k * kModelStepSeconds) == times_s.end())
        return false;
    return true;
  };
  const std::string frames_text = std::to_string(n_frames) + " frames 12 h apart";
  if (init_time.empty()) {
    int64_t best = -1;
    for (size_t i = 0; i < times_s.size(); ++i)
      if (has_history(times_s[i]) && (best < 0 || times_s[i] > times_s[static_cast<size_t>(best)]))
        best = static_cast<int64_t>(i);
    if (best < 0)
      fail_input(path, "time", "at least " + frames_text + " (t-12h, t) for the initial condition",
                 times_text(times_s));
    return best;
  }
  const int64_t init_s = parse_iso_time(init_time, "init_time");
  auto it = std::find(times_s.begin(), times_s.end(), init_s);
  if (it == times_s.end())
    fail_input(path, "time", "a frame at init_time " + format_iso_time(init_s),
               "only " + times_text(times_s), "pick one of the file's times, or leave "
               "init_time empty for the latest usable one");
  for (int k = 1; k < n_frames; ++k) {
    const int64_t want = init_s - k * kModelStepSeconds;
    if (std::find(times_s.begin(), times_s.end(), want) == times_s.end())
      fail_input(path, "time",
                 "a frame at " + format_iso_time(want) + " (" + std::to_string(12 * k) +
                     " h before init_time " + format_iso_time(init_s) + ")",
                 "only " + times_text(times_s),
                 "GenCast needs " + frames_text + " ending at the initialisation time");
  }
  return it - times_s.begin();
}

int64_t select_init_time(const InputDataset& dataset, const std::string& init_time,
                         int n_frames) {
  return select_init_index(dataset.times_s, n_frames, init_time, dataset.path);
}

InputDataset read_input_dataset(const std::string& path, const TaskConfig& task,
                                const std::string& init_time) {
  ProblemList problems;
  InputDataset ds = read_collecting(path, task, init_time, problems);
  problems.throw_if_any();
  return ds;
}

void check_input_dataset(const std::string& path, const TaskConfig& task,
                         const std::string& init_time, ProblemList& problems) {
  (void)read_collecting(path, task, init_time, problems);
}

}  // namespace gencast

namespace gencast {

InputGrid read_input_grid(const std::string& path) {
  NcFile file = NcFile::open_read(path);
  ProblemList problems;
  GridMap grid;
  nc_collect_read(path, "", problems, [&] { grid = read_grid(file.id(), path, problems); });
  problems.throw_if_any();
  return InputGrid{std::move(grid.lat), std::move(grid.lon)};
}

std::vector<int64_t> read_input_times(const std::string& path) {
  NcFile file = NcFile::open_read(path);
  ProblemList problems;
  std::optional<std::vector<int64_t>> times;
  nc_collect_read(path, "time", problems, [&] { times = read_times(file.id(), path, problems); });
  problems.throw_if_any();
  if (!times) fail_input(path, "time", "readable times", "none");
  return *times;
}

}  // namespace gencast
