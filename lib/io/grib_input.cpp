// ERA5 GRIB input reader (see grib_input.h). Two passes: the first reads
// only the keys of every message (which field, level, time and grid, and
// where it lies in its file) and finds every problem; the second decodes
// just the messages of the input frames.
#include "io/grib_input.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "config/variables.h"
#include "core/text.h"
#include "io/grib_handle.h"
#include "io/grib_params.h"
#include "io/open_observer.h"
#include "io/input_values.h"
#include "io/netcdf_util.h"  // days_from_civil, format_iso_time

namespace gencast {
namespace {

// GRIB1 stores coordinates in millidegrees, GRIB2 in microdegrees.
constexpr double kCoordTolDeg = 2e-3;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    fail_input(path, "", "an existing GRIB file", "no such file");
  if (std::filesystem::is_directory(path, ec)) fail_input(path, "", "a GRIB file", "a folder");
  // A FIFO would block; a device such as /dev/zero would be scanned forever.
  if (!std::filesystem::is_regular_file(path, ec))
    fail_input(path, "", "a GRIB file", "a special file (device, FIFO or socket)");
  notify_file_open(path, "ecCodes (GRIB)");
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) fail_input(path, "", "a readable GRIB file", "it cannot be opened");
  return f;
}

// The horizontal grid of one message, as its keys state it.
struct GridInfo {
  std::string type;
  long ni = 0, nj = 0;
  double lat_first = 0, lat_last = 0, lon_first = 0, lon_last = 0;
  long i_negative = 0, j_consecutive = 0;

  bool same(const GridInfo& o) const {
    return type == o.type && ni == o.ni && nj == o.nj && i_negative == o.i_negative &&
           j_consecutive == o.j_consecutive && std::fabs(lat_first - o.lat_first) < kCoordTolDeg &&
           std::fabs(lat_last - o.lat_last) < kCoordTolDeg &&
           std::fabs(lon_first - o.lon_first) < kCoordTolDeg &&
           std::fabs(lon_last - o.lon_last) < kCoordTolDeg;
  }
  std::string text() const {
    if (type != "regular_ll") return "a " + type + " grid";
    return "regular_ll " + std::to_string(ni) + " x " + std::to_string(nj) + " (lat " +
           fmt(lat_first) + " to " + fmt(lat_last) + ", lon " + fmt(lon_first) + " to " +
           fmt(lon_last) + ")";
  }
};

GridInfo read_grid_info(const GribHandle& h) {
  GridInfo g;
  g.type = h.get_string("gridType");
  if (g.type != "regular_ll") return g;
  g.ni = h.get_long("Ni");
  g.nj = h.get_long("Nj");
  g.lat_first = h.get_double("latitudeOfFirstGridPointInDegrees");
  g.lat_last = h.get_double("latitudeOfLastGridPointInDegrees");
  g.lon_first = h.get_double("longitudeOfFirstGridPointInDegrees");
  g.lon_last = h.get_double("longitudeOfLastGridPointInDegrees");
  g.i_negative = h.get_long("iScansNegatively");
  g.j_consecutive = h.get_long("jPointsAreConsecutive");
  return g;
}

// How a message's values map onto the normalised grid (lat ascending from
// -90, lon ascending from 0).
struct GridMap {
  bool ok = false;
  std::vector<float> lat, lon;
  std::vector<size_t> source;  // normalised node -> index in the message's values
};

double wrap360(double v) {
  v = std::fmod(v, 360.0);
  return v < 0 ? v + 360.0 : v;
}

GridMap map_grid(const GridInfo& g, const std::string& file, const std::string& field,
                 ProblemList& problems) {
  GridMap m;
  if (g.type != "regular_ll") {
    problems.add(file, field, "a regular_ll (regular latitude/longitude) grid", g.text(),
                 "request the data on a regular lat/lon grid, e.g. CDS grid: [1.0, 1.0] or "
                 "[0.25, 0.25]");
    return m;
  }
  const size_t before = problems.size();
  if (g.nj < 3) {
    problems.add(file, field, "at least 3 latitudes", std::to_string(g.nj));
    return m;
  }
  const bool poles = std::fabs(std::fabs(g.lat_first) - 90.0) < kCoordTolDeg &&
                     std::fabs(std::fabs(g.lat_last) - 90.0) < kCoordTolDeg &&
                     g.lat_first * g.lat_last < 0;
  if (!poles)
    problems.add(file, field, "latitudes from 90 to -90 or -90 to 90 (equiangular grid with poles)",
                 "from " + fmt(g.lat_first) + " to " + fmt(g.lat_last),
                 "request the whole globe (no area), as GenCast's grids include both poles");
  if (g.ni != 2 * (g.nj - 1))
    problems.add(file, field,
                 "Ni = 2 * (Nj - 1) = " + std::to_string(2 * (g.nj - 1)) + " longitudes for " +
                     std::to_string(g.nj) + " latitudes (equiangular grid with poles)",
                 std::to_string(g.ni) + " longitudes");
  if (problems.size() != before) return m;

  const auto n_lat = static_cast<size_t>(g.nj), n_lon = static_cast<size_t>(g.ni);
  const double step = 360.0 / static_cast<double>(n_lon);
  const double dir = g.i_negative ? -1.0 : 1.0;
  const double last = g.lon_first + dir * step * static_cast<double>(n_lon - 1);
  const double off_last = wrap360(last - g.lon_last);
  const double off_zero = wrap360(g.lon_first) / step;
  if (std::min(off_last, 360.0 - off_last) > kCoordTolDeg ||
      std::fabs(off_zero - std::round(off_zero)) * step > kCoordTolDeg) {
    problems.add(file, field,
                 "longitudes every " + fmt(step) + " degrees around the globe, including 0",
                 "from " + fmt(g.lon_first) + " to " + fmt(g.lon_last) + " in " +
                     std::to_string(n_lon) + " points");
    return m;
  }

  // Column c of the message holds longitude k(c) * step.
  std::vector<size_t> column_of(n_lon);
  for (size_t c = 0; c < n_lon; ++c) {
    const double lon = wrap360(g.lon_first + dir * step * static_cast<double>(c));
    const auto k = static_cast<size_t>(std::llround(lon / step)) % n_lon;
    column_of[k] = c;
  }
  const bool north_first = g.lat_first > g.lat_last;
  m.source.resize(n_lat * n_lon);
  for (size_t i = 0; i < n_lat; ++i) {
    const size_t row = north_first ? n_lat - 1 - i : i;
    for (size_t k = 0; k < n_lon; ++k) {
      const size_t c = column_of[k];
      m.source[i * n_lon + k] = g.j_consecutive ? c * n_lat + row : row * n_lon + c;
    }
  }
  // The same float32 coordinates the NetCDF files of these grids hold.
  for (size_t i = 0; i < n_lat; ++i)
    m.lat.push_back(static_cast<float>(-90.0 + 180.0 * static_cast<double>(i) /
                                                   static_cast<double>(n_lat - 1)));
  for (size_t k = 0; k < n_lon; ++k) m.lon.push_back(static_cast<float>(step * static_cast<double>(k)));
  m.ok = true;
  return m;
}

// One message that holds a model input.
struct Message {
  size_t file = 0;  // index into the paths
  long offset = 0;  // byte offset in its file
  std::string variable;
  long level = 0;   // hPa for pressure-level variables, else 0
  int64_t valid_s = 0;
  GridInfo grid;
};

int64_t validity_seconds(const GribHandle& h) {
  const long date = h.get_long("validityDate");  // YYYYMMDD
  const long time = h.get_long("validityTime");  // HHMM
  return days_from_civil(date / 10000, date / 100 % 100, date % 100) * 86400 +
         (time / 100) * 3600 + (time % 100) * 60;
}

// The wanted variable a message holds, or "" when it holds none.
std::string match_variable(const GribHandle& h, const std::vector<std::string>& wanted) {
  const long param_id = h.get_long("paramId");
  std::string level_type;
  for (const auto& name : wanted) {
    const GribParam* p = find_grib_param(name);
    if (!p || p->param_id != param_id) continue;
    if (level_type.empty()) level_type = h.get_string("typeOfLevel");
    if (std::find(p->input_level_types.begin(), p->input_level_types.end(), level_type) !=
        p->input_level_types.end())
      return name;
  }
  return "";
}

std::vector<Message> scan_files(const std::vector<std::string>& paths,
                                const std::vector<std::string>& wanted, ProblemList& problems) {
  std::vector<Message> out;
  for (size_t f = 0; f < paths.size(); ++f) {
    FilePtr file;
    problems.collect([&] { file = open_file(paths[f]); });
    if (!file) continue;
    size_t count = 0;
    try {
      while (GribHandle h = GribHandle::next_in_file(file.get(), paths[f])) {
        ++count;
        const std::string variable = match_variable(h, wanted);
        if (variable.empty()) continue;
        Message m;
        m.file = f;
        m.offset = h.get_long("offset");
        m.variable = variable;
        m.level = find_grib_param(variable)->pressure_levels ? h.get_long("level") : 0;
        m.valid_s = validity_seconds(h);
        m.grid = read_grid_info(h);
        out.push_back(std::move(m));
      }
    } catch (const RuntimeFailure& e) {
      problems.add(paths[f], "", "GRIB messages (edition 1 or 2)",
                   "an unreadable message after " + std::to_string(count) + " (" + e.what() + ")",
                   "is the download complete? `grib_ls FILE` should list every message");
      continue;
    }
    if (count == 0)
      problems.add(paths[f], "", "a GRIB file with the input fields", "no GRIB messages");
  }
  return out;
}

std::string label(const std::string& variable) {
  const GribParam* p = find_grib_param(variable);
  return p ? variable + " (" + p->short_name + ")" : variable;
}

std::string what_is_needed(const std::string& variable, const std::vector<int64_t>& levels) {
  const GribParam& p = *find_grib_param(variable);
  std::string text = "paramId " + std::to_string(p.param_id) + " (" + p.short_name + ") on ";
  if (p.pressure_levels) return text + "isobaricInhPa levels " + join_numbers(levels);
  return text + join(p.input_level_types, " or ");
}

// Where each normalised field comes from.
struct FieldSource {
  std::string variable;
  std::vector<const Message*> messages;  // [frame][level] (statics: one)
};

// The shared reader: every problem goes into `problems`; the dataset is only
// meaningful when none was added.
InputDataset read_collecting(const std::vector<std::string>& paths, const TaskConfig& task,
                             const std::string& init_time, ProblemList& problems) {
  InputDataset ds;
  ds.path = join(paths, " + ");
  int n_frames = 0;
  problems.collect([&] {
    check_task_supported(task);
    n_frames = static_cast<int>(input_frame_count(task));
  });
  if (n_frames == 0) return ds;

  const std::vector<std::string> varying = time_varying_inputs(task);
  std::vector<std::string> wanted = varying;
  for (const auto& v : task.input_variables)
    if (is_static_variable(v)) wanted.push_back(v);
  for (const auto& name : wanted)
    if (!find_grib_param(name))
      problems.add(ds.path, name, "an input variable with a GRIB parameter",
                   "no GRIB mapping for it", "use NetCDF input for this model");
  if (!problems.empty()) return ds;

  const size_t before = problems.size();
  const std::vector<Message> messages = scan_files(paths, wanted, problems);
  if (problems.size() != before) return ds;

  // One grid for every message used: the first one's.
  GridMap grid;
  if (!messages.empty()) {
    const Message& first = messages.front();
    grid = map_grid(first.grid, paths[first.file], "grid of " + label(first.variable), problems);
    std::vector<std::string> reported;
    for (const Message& m : messages) {
      if (m.grid.same(first.grid) ||
          std::find(reported.begin(), reported.end(), m.variable) != reported.end())
        continue;
      reported.push_back(m.variable);
      problems.add(paths[m.file], label(m.variable),
                   "the grid of every other input field: " + first.grid.text() + " (as " +
                       label(first.variable) + " in " + paths[first.file] + ")",
                   m.grid.text() + " at " + format_iso_time(m.valid_s),
                   "download every field on the same grid");
    }
  }

  // Times: every validity time of a time-varying field; the frames end at init_time.
  std::vector<int64_t> times;
  for (const Message& m : messages)
    if (!is_static_variable(m.variable)) times.push_back(m.valid_s);
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  std::optional<int64_t> init_index;
  if (!times.empty())
    problems.collect([&] { init_index = select_init_index(times, n_frames, init_time, ds.path); });
  if (init_index) {
    const int64_t init_s = times[static_cast<size_t>(*init_index)];
    for (int k = n_frames - 1; k >= 0; --k) ds.times_s.push_back(init_s - k * kModelStepSeconds);
  }

  // Which message gives each (variable, frame, level); what is missing or doubled.
  using Key = std::tuple<std::string, int64_t, long>;
  std::map<Key, std::vector<const Message*>> by_key;
  for (const Message& m : messages) by_key[{m.variable, m.valid_s, m.level}].push_back(&m);
  std::vector<FieldSource> sources;
  const std::string all_fields = [&] {
    std::vector<std::string> names;
    for (const auto& name : wanted) names.push_back(find_grib_param(name)->short_name + (has_levels(name) ? " (pl)" : ""));
    return join(names, ", ");
  }();
  for (const auto& name : wanted) {
    const bool is_static = is_static_variable(name);
    const bool levels = has_levels(name);
    const bool any = std::any_of(messages.begin(), messages.end(),
                                 [&](const Message& m) { return m.variable == name; });
    if (!any) {
      problems.add(ds.path, label(name), what_is_needed(name, task.pressure_levels), "missing",
                   "the GRIB files must hold every input field: " + all_fields);
      continue;
    }
    FieldSource src{name, {}};
    if (is_static) {
      // At the initialisation time when there, else the latest one.
      const Message* best = nullptr;
      for (const Message& m : messages) {
        if (m.variable != name) continue;
        const bool at_init = !ds.times_s.empty() && m.valid_s == ds.times_s.back();
        const bool best_at_init = best && !ds.times_s.empty() && best->valid_s == ds.times_s.back();
        if (!best || (at_init && !best_at_init) || (!best_at_init && m.valid_s > best->valid_s))
          best = &m;
      }
      src.messages.push_back(best);
      sources.push_back(std::move(src));
      continue;
    }
    if (ds.times_s.empty()) continue;
    std::vector<std::string> missing, doubled;
    const std::vector<long> level_list =
        levels ? std::vector<long>(task.pressure_levels.begin(), task.pressure_levels.end())
               : std::vector<long>{0};
    for (const int64_t t : ds.times_s) {
      for (const long level : level_list) {
        const auto it = by_key.find({name, t, level});
        const std::string where =
            (levels ? std::to_string(level) + " hPa at " : std::string()) + format_iso_time(t);
        if (it == by_key.end()) {
          missing.push_back(where);
          src.messages.push_back(nullptr);
        } else {
          if (it->second.size() > 1) doubled.push_back(where);
          src.messages.push_back(it->second.front());
        }
      }
    }
    if (!missing.empty()) {
      const size_t shown = std::min<size_t>(missing.size(), 6);
      std::string found = "no message for " +
                          join(std::vector<std::string>(missing.begin(), missing.begin() +
                                                                             static_cast<long>(shown)),
                               ", ");
      if (missing.size() > shown) found += ", ... (" + std::to_string(missing.size()) + " fields missing)";
      problems.add(ds.path, label(name),
                   what_is_needed(name, task.pressure_levels) + " at " +
                       input_times_text(ds.times_s),
                   found,
                   levels ? "GenCast needs every task level at both input times"
                          : "GenCast needs the field at both input times");
    }
    if (!doubled.empty())
      problems.add(ds.path, label(name), "one message per field and time",
                   "several messages for " + doubled.front() +
                       (doubled.size() > 1 ? " and " + std::to_string(doubled.size() - 1) + " more"
                                           : std::string()),
                   "is a file given twice, or does it hold several ensemble members?");
    sources.push_back(std::move(src));
  }
  if (!problems.empty() || !grid.ok) return ds;

  // Second pass: decode the chosen messages, file by file in file order.
  const size_t n_lat = grid.lat.size(), n_lon = grid.lon.size(), n_grid = n_lat * n_lon;
  struct Target {
    const Message* message;
    float* dst;
  };
  std::vector<std::vector<Target>> per_file(paths.size());
  for (const FieldSource& src : sources) {
    const bool is_static = is_static_variable(src.variable);
    const size_t n_levels = has_levels(src.variable) ? task.pressure_levels.size() : 0;
    Shape shape;
    if (!is_static) shape.push_back(static_cast<int64_t>(ds.times_s.size()));
    if (n_levels) shape.push_back(static_cast<int64_t>(n_levels));
    shape.push_back(static_cast<int64_t>(n_lat));
    shape.push_back(static_cast<int64_t>(n_lon));
    ArrayF& field = ds.fields[src.variable] = ArrayF(shape);
    for (size_t i = 0; i < src.messages.size(); ++i)
      per_file[src.messages[i]->file].push_back({src.messages[i], field.ptr() + i * n_grid});
  }
  for (size_t f = 0; f < paths.size(); ++f) {
    if (per_file[f].empty()) continue;
    auto& targets = per_file[f];
    std::sort(targets.begin(), targets.end(),
              [](const Target& a, const Target& b) { return a.message->offset < b.message->offset; });
    FilePtr file = open_file(paths[f]);
    for (const Target& t : targets) {
      if (std::fseek(file.get(), t.message->offset, SEEK_SET) != 0)
        throw RuntimeFailure(paths[f] + ": cannot seek to a GRIB message");
      GribHandle h = GribHandle::next_in_file(file.get(), paths[f]);
      if (!h) throw RuntimeFailure(paths[f] + ": a GRIB message vanished while reading");
      const std::vector<double> values = h.get_values();
      if (values.size() != n_grid)
        fail_input(paths[f], label(t.message->variable),
                   std::to_string(n_grid) + " values (the grid's points)",
                   std::to_string(values.size()) + " values");
      for (size_t g = 0; g < n_grid; ++g) t.dst[g] = static_cast<float>(values[grid.source[g]]);
    }
  }
  for (const auto& [name, field] : ds.fields) check_input_values(ds.path, name, field, ds.times_s, problems);
  ds.lat = grid.lat;
  ds.lon = grid.lon;
  ds.levels = task.pressure_levels;
  return ds;
}

}  // namespace

bool starts_with_grib(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GRIB";
}

InputDataset read_grib_input(const std::vector<std::string>& paths, const TaskConfig& task,
                             const std::string& init_time) {
  ProblemList problems;
  InputDataset ds = read_collecting(paths, task, init_time, problems);
  problems.throw_if_any();
  return ds;
}

void check_grib_input(const std::vector<std::string>& paths, const TaskConfig& task,
                      const std::string& init_time, ProblemList& problems) {
  (void)read_collecting(paths, task, init_time, problems);
}

InputGrid read_grib_input_grid(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    FilePtr file = open_file(path);
    if (GribHandle h = GribHandle::next_in_file(file.get(), path)) {
      ProblemList problems;
      GridMap grid = map_grid(read_grid_info(h), path, "grid", problems);
      problems.throw_if_any();
      return InputGrid{std::move(grid.lat), std::move(grid.lon)};
    }
  }
  fail_input(join(paths, " + "), "", "GRIB files with the input fields", "no GRIB messages");
}

}  // namespace gencast
