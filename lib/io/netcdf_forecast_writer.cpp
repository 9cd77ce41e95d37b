// NetCDF-4 forecast writer (see forecast_writer.h for the layouts and the
// atomicity contract).
//
// Why some choices:
// - Each layout is a list of axes in file order; the per-step hyperslab is
//   derived from that list, so both layouts share one write path.
// - Times are stored as int64 with CF units relative to the init time
//   ("hours since <init>"), so lead times and valid times are exact integers
//   and xarray decodes them to timedelta64 / datetime64. Lead-time variables
//   also carry dtype = "timedelta64[ns]", the attribute xarray itself writes,
//   which newer xarray versions use to decode timedeltas without a warning.
// - The file is created with NOFILL: every chunk is written exactly once and
//   close() refuses to publish a file with a missing (member, lead) step.
#include "io/netcdf_forecast_writer.h"

#include "core/text.h"

#include <fcntl.h>
#include <netcdf.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>

#include "core/version.h"
#include "io/cf_metadata.h"

namespace gencast {
namespace {

namespace fs = std::filesystem;

// The axes a forecast variable can have; each layout orders a subset.
enum class Axis { member, batch, init, lead, level, lat, lon };

struct LayoutAxes {
  std::vector<Axis> order;  // file order of a variable with levels
  std::string batch_dim, init_dim, lead_dim, level_dim, lat_dim, lon_dim;
};

LayoutAxes layout_axes(OutputLayout layout) {
  if (layout == OutputLayout::wb2) {
    return {{Axis::init, Axis::lead, Axis::member, Axis::level, Axis::lat, Axis::lon},
            "",
            "time",
            "prediction_timedelta",
            "level",
            "latitude",
            "longitude"};
  }
  return {{Axis::member, Axis::batch, Axis::lead, Axis::level, Axis::lat, Axis::lon},
          "batch",
          "",
          "time",
          "level",
          "lat",
          "lon"};
}

// Names the member dimension must not take: the layout's other dims and
// coordinate variables.
std::vector<std::string> reserved_names(OutputLayout layout) {
  if (layout == OutputLayout::wb2) {
    return {"time", "prediction_timedelta", "level", "latitude", "longitude"};
  }
  return {"batch", "time", "level", "lat", "lon", "datetime", "forecast_reference_time"};
}

bool is_netcdf_identifier(const std::string& name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!alpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alpha(c) || digit(c); });
}


// "YYYY-MM-DD HH:MM:SS" (UTC) for CF "since" units.
std::string format_utc(int64_t unix_seconds, const char* date_time_separator) {
  using namespace std::chrono;
  const sys_seconds t{seconds{unix_seconds}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u%s%02ld:%02ld:%02ld", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                date_time_separator, static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()), static_cast<long>(hms.seconds().count()));
  return buf;
}

std::string utc_now_iso() {
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  return format_utc(now.time_since_epoch().count(), "T") + "Z";
}

// HDF5 reports a full disk (or a file-size limit) only as "NetCDF: HDF
// error": name the file-size limit when there is one, else the room left on
// the output's file system when it is nearly full, so the user learns why.
std::string space_note(const std::string& file) {
  rlimit size_limit{};
  if (::getrlimit(RLIMIT_FSIZE, &size_limit) == 0 && size_limit.rlim_cur != RLIM_INFINITY)
    return " (this process may write files of at most " +
           std::to_string(size_limit.rlim_cur / 1024) + " KiB: ulimit -f)";
  struct statvfs fs_info {};
  const std::string dir = fs::path(file).parent_path().empty()
                              ? std::string(".")
                              : fs::path(file).parent_path().string();
  if (::statvfs(dir.c_str(), &fs_info) != 0) return "";
  const double free_bytes = static_cast<double>(fs_info.f_bavail) * static_cast<double>(fs_info.f_frsize);
  if (free_bytes > 64.0 * 1024 * 1024) return "";
  char text[160];
  std::snprintf(text, sizeof text, " (%.0f KiB left on the output's file system: is the disk full?)",
                free_bytes / 1024);
  return text;
}

// Throws RuntimeFailure naming the file and the operation on a netCDF error.
void nc_check(int status, const std::string& what, const std::string& file) {
  if (status != NC_NOERR) {
    throw RuntimeFailure(file + ": " + what + " failed: " + nc_strerror(status) + space_note(file));
  }
}

class AttributeWriter {
 public:
  AttributeWriter(int ncid, std::string file) : ncid_(ncid), file_(std::move(file)) {}
  void text(int varid, const char* name, const std::string& value) const {
    nc_check(nc_put_att_text(ncid_, varid, name, value.size(), value.c_str()),
             std::string("writing attribute ") + name, file_);
  }

 private:
  int ncid_;
  std::string file_;
};

// Checks that the grid, times, members and channels describe one consistent
// forecast. These come from the program, not the user: std::invalid_argument.
void validate_structure(const ForecastOutputSpec& spec) {
  auto bad = [](const std::string& msg) { throw std::invalid_argument("NetcdfForecastWriter: " + msg); };
  if (spec.lat.empty() || spec.lon.empty()) bad("empty lat or lon");
  for (size_t i = 1; i < spec.lat.size(); ++i) {
    if (!(spec.lat[i] > spec.lat[i - 1])) bad("lat must be strictly ascending");
  }
  if (spec.lead_hours.empty()) bad("no lead times");
  for (size_t i = 1; i < spec.lead_hours.size(); ++i) {
    if (spec.lead_hours[i] <= spec.lead_hours[i - 1]) bad("lead_hours must be strictly increasing");
  }
  if (spec.member_ids.empty()) bad("no members");
  if (std::set<int64_t>(spec.member_ids.begin(), spec.member_ids.end()).size() !=
      spec.member_ids.size()) {
    bad("member_ids must be unique");
  }
  if (spec.channels.empty()) bad("no channels");
  // Each variable is either one surface channel or one channel per level.
  std::vector<std::string> names;
  for (const auto& ch : spec.channels) {
    if (ch.variable.empty()) bad("channel without a variable name");
    if (ch.level < -1 || ch.level >= static_cast<int>(spec.levels.size())) {
      bad("channel " + ch.variable + " has level index " + std::to_string(ch.level) +
          " outside the " + std::to_string(spec.levels.size()) + " levels");
    }
    if (std::find(names.begin(), names.end(), ch.variable) == names.end()) {
      names.push_back(ch.variable);
    }
  }
  for (const auto& name : names) {
    std::vector<int> levels;
    for (const auto& ch : spec.channels) {
      if (ch.variable == name) levels.push_back(ch.level);
    }
    std::sort(levels.begin(), levels.end());
    const bool surface = levels.size() == 1 && levels[0] == -1;
    bool all_levels = levels.size() == spec.levels.size();
    for (size_t k = 0; all_levels && k < levels.size(); ++k) {
      all_levels = levels[k] == static_cast<int>(k);
    }
    if (!surface && !all_levels) {
      bad("variable " + name + " must have one surface channel or one channel per level");
    }
  }
}

// Characters the output's file name must leave free for the suffix of its
// temporary file (".partial-<pid>", 16 at most today), with room to spare.
constexpr size_t kTemporarySuffixRoom = 32;

}  // namespace

void check_output_path(const std::string& path, ProblemList& problems) {
  const std::string field = "output.path";
  if (path.empty()) {
    problems.add("", field, "a file name for the forecast", "an empty path");
    return;
  }
  std::error_code ec;
  const fs::path file(path);
  if (fs::is_directory(file, ec)) {
    problems.add(path, field, "a file name", "a folder",
                 "name a file inside it, e.g. " + (file / "forecast.nc").string());
    return;
  }
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  if (!fs::exists(dir, ec)) {
    problems.add(path, field, "an existing output folder",
                 "folder " + dir.string() + " does not exist",
                 "create it first: mkdir -p " + dir.string());
    return;
  }
  if (!fs::is_directory(dir, ec)) {
    problems.add(path, field, "an existing output folder", dir.string() + " is not a folder");
    return;
  }
  // access(W_OK) says yes to root on read-only mounts; creating a file is the
  // real test. The probe is named like the output plus a suffix at least as
  // long as the temporary file's, so that a name too long for the folder is
  // found here (ENAMETOOLONG) and not when the forecast has run.
  std::string suffix = ".gencast-probe-" + std::to_string(::getpid());
  suffix.resize(std::max<size_t>(suffix.size(), kTemporarySuffixRoom), 'x');
  const fs::path probe = dir / (file.filename().string() + suffix);
  const int fd = ::open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == ENAMETOOLONG) {
      const long name_max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
      problems.add(path, field,
                   "a file name of at most " +
                       (name_max > 0 ? std::to_string(static_cast<size_t>(name_max) -
                                                      kTemporarySuffixRoom)
                                     : std::string("a few hundred")) +
                       " characters (the folder's limit less " +
                       std::to_string(kTemporarySuffixRoom) + " for the temporary suffix)",
                   std::to_string(file.filename().string().size()) + " characters (" +
                       std::strerror(err) + ")",
                   "choose a shorter file name");
    } else {
      problems.add(path, field, "a writable output folder",
                   "cannot create files in " + dir.string() + " (" + std::strerror(err) + ")");
    }
    return;
  }
  ::close(fd);
  fs::remove(probe, ec);
}

void check_output_options(const ForecastOutputSpec& spec,
                          const std::vector<std::string>& target_variables, ProblemList& problems) {
  check_output_path(spec.path, problems);
  for (const auto& name : spec.variables) {
    if (std::find(target_variables.begin(), target_variables.end(), name) ==
        target_variables.end()) {
      problems.add(spec.spec_file, "output.variables",
                   "target variables among: " + join(target_variables, ", "),
                   "unknown variable '" + name + "'",
                   "leave output.variables empty to write every target variable");
    }
  }
  if (spec.compression < 0 || spec.compression > 9) {
    problems.add(spec.spec_file, "output.compression", "a zlib level from 0 (off) to 9",
                 std::to_string(spec.compression), "1 is fast and already saves most space");
  }
  if (!spec.ensemble_dim.empty()) {
    const auto reserved = reserved_names(spec.layout);
    if (!is_netcdf_identifier(spec.ensemble_dim)) {
      problems.add(spec.spec_file, "output.ensemble_dim",
                   "a name of letters, digits and '_' starting with a letter or '_'",
                   "'" + spec.ensemble_dim + "'");
    } else if (std::find(reserved.begin(), reserved.end(), spec.ensemble_dim) != reserved.end() ||
               std::find(target_variables.begin(), target_variables.end(), spec.ensemble_dim) !=
                   target_variables.end()) {
      problems.add(
          spec.spec_file, "output.ensemble_dim",
          std::string("a name not used by another dimension, coordinate or variable of the ") +
              output_layout_name(spec.layout) + " layout",
          "'" + spec.ensemble_dim + "'",
          std::string("the default is ") + default_ensemble_dim(spec.layout));
    }
  }
}

NetcdfForecastWriter::NetcdfForecastWriter(ForecastOutputSpec spec) : spec_(std::move(spec)) {
  if (spec_.ensemble_dim.empty()) spec_.ensemble_dim = default_ensemble_dim(spec_.layout);
  std::vector<std::string> targets;
  for (const auto& ch : spec_.channels) {
    if (std::find(targets.begin(), targets.end(), ch.variable) == targets.end()) {
      targets.push_back(ch.variable);
    }
  }
  ProblemList problems;
  check_output_options(spec_, targets, problems);
  problems.throw_if_any();
  validate_structure(spec_);

  // Selected variables, in channel order.
  for (const auto& name : targets) {
    if (spec_.variables.empty() ||
        std::find(spec_.variables.begin(), spec_.variables.end(), name) != spec_.variables.end()) {
      variable_names_.push_back(name);
    }
  }
  written_.assign(spec_.member_ids.size() * spec_.lead_hours.size(), 0);
  temp_path_ = spec_.path + ".partial-" + std::to_string(::getpid());
  try {
    define_file();
  } catch (...) {
    discard();
    throw;
  }
}

NetcdfForecastWriter::~NetcdfForecastWriter() {
  if (!closed_) discard();
}

void NetcdfForecastWriter::discard() noexcept {
  if (ncid_ >= 0) {
    nc_close(ncid_);  // errors are moot: the file is about to be deleted
    ncid_ = -1;
  }
  if (!temp_path_.empty()) {
    std::error_code ec;
    fs::remove(temp_path_, ec);
  }
}

void NetcdfForecastWriter::define_file() {
  const std::string& file = temp_path_;
  int status = nc_create(file.c_str(), NC_NETCDF4 | NC_CLOBBER, &ncid_);
  if (status != NC_NOERR) {
    ncid_ = -1;
    // netCDF reports every failed HDF5 create as EACCES ("Permission
    // denied"); creating the file ourselves gives the real reason.
    std::string why = nc_strerror(status);
    const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0) why = std::strerror(errno);
    else ::close(fd);
    throw RuntimeFailure(file + ": cannot create the output file: " + why);
  }
  int old_fill = 0;
  nc_check(nc_set_fill(ncid_, NC_NOFILL, &old_fill), "setting no-fill mode", file);
  const AttributeWriter att(ncid_, file);

  const LayoutAxes axes = layout_axes(spec_.layout);
  const bool wb2 = spec_.layout == OutputLayout::wb2;
  bool any_levels = false;
  for (const auto& ch : spec_.channels) {
    const bool selected = std::find(variable_names_.begin(), variable_names_.end(), ch.variable) !=
                          variable_names_.end();
    any_levels = any_levels || (selected && ch.level >= 0);
  }

  // Dimensions, in the layout's order.
  const size_t n_lat = spec_.lat.size(), n_lon = spec_.lon.size();
  auto axis_size = [&](Axis a) -> size_t {
    switch (a) {
      case Axis::member:
        return spec_.member_ids.size();
      case Axis::batch:
        return 1;
      case Axis::init:
        return 1;
      case Axis::lead:
        return spec_.lead_hours.size();
      case Axis::level:
        return spec_.levels.size();
      case Axis::lat:
        return n_lat;
      case Axis::lon:
        return n_lon;
    }
    return 0;
  };
  auto axis_name = [&](Axis a) -> std::string {
    switch (a) {
      case Axis::member:
        return spec_.ensemble_dim;
      case Axis::batch:
        return axes.batch_dim;
      case Axis::init:
        return axes.init_dim;
      case Axis::lead:
        return axes.lead_dim;
      case Axis::level:
        return axes.level_dim;
      case Axis::lat:
        return axes.lat_dim;
      case Axis::lon:
        return axes.lon_dim;
    }
    return {};
  };
  std::vector<std::pair<Axis, int>> dim_ids;
  for (Axis a : axes.order) {
    if (a == Axis::level && !any_levels) continue;
    int id = 0;
    nc_check(nc_def_dim(ncid_, axis_name(a).c_str(), axis_size(a), &id),
             "defining dimension " + axis_name(a), file);
    dim_ids.emplace_back(a, id);
  }
  auto dim_of = [&](Axis a) {
    for (const auto& [axis, id] : dim_ids) {
      if (axis == a) return id;
    }
    throw std::logic_error("NetcdfForecastWriter: axis without a dimension");
  };
  auto def_var = [&](const std::string& name, nc_type type, std::vector<int> dims) {
    int id = 0;
    nc_check(nc_def_var(ncid_, name.c_str(), type, static_cast<int>(dims.size()), dims.data(), &id),
             "defining variable " + name, file);
    return id;
  };

  // Coordinates. Times are relative to the init time, so they are exact integers.
  const std::string since_init = "hours since " + format_utc(spec_.init_time_s, " ");
  // int64 like the reference's np.arange ids; member ids may exceed 2^31.
  const int member_var = def_var(spec_.ensemble_dim, NC_INT64, {dim_of(Axis::member)});
  att.text(member_var, "standard_name", "realization");
  att.text(member_var, "long_name", "ensemble member");

  const int lead_var = def_var(axes.lead_dim, NC_INT64, {dim_of(Axis::lead)});
  att.text(lead_var, "standard_name", "forecast_period");
  att.text(lead_var, "long_name", "lead time");
  att.text(lead_var, "units", "hours");
  att.text(lead_var, "dtype", "timedelta64[ns]");

  // wb2: the init time is the `time` dimension; predictions: a scalar coordinate.
  const int init_var = wb2 ? def_var(axes.init_dim, NC_INT64, {dim_of(Axis::init)})
                           : def_var("forecast_reference_time", NC_INT64, {});
  att.text(init_var, "standard_name", "forecast_reference_time");
  att.text(init_var, "long_name", "initialization time");
  att.text(init_var, "units", since_init);
  att.text(init_var, "calendar", "proleptic_gregorian");

  int valid_var = -1;
  if (!wb2) {
    valid_var = def_var("datetime", NC_INT64, {dim_of(Axis::batch), dim_of(Axis::lead)});
    att.text(valid_var, "standard_name", "time");
    att.text(valid_var, "long_name", "valid time");
    att.text(valid_var, "units", since_init);
    att.text(valid_var, "calendar", "proleptic_gregorian");
  }

  int level_var = -1;
  if (any_levels) {
    level_var = def_var(axes.level_dim, NC_INT, {dim_of(Axis::level)});
    att.text(level_var, "standard_name", "air_pressure");
    att.text(level_var, "long_name", "pressure level");
    att.text(level_var, "units", "hPa");
    att.text(level_var, "positive", "down");
    att.text(level_var, "axis", "Z");
  }
  const int lat_var = def_var(axes.lat_dim, NC_FLOAT, {dim_of(Axis::lat)});
  att.text(lat_var, "standard_name", "latitude");
  att.text(lat_var, "long_name", "latitude");
  att.text(lat_var, "units", "degrees_north");
  att.text(lat_var, "axis", "Y");
  const int lon_var = def_var(axes.lon_dim, NC_FLOAT, {dim_of(Axis::lon)});
  att.text(lon_var, "standard_name", "longitude");
  att.text(lon_var, "long_name", "longitude");
  att.text(lon_var, "units", "degrees_east");
  att.text(lon_var, "axis", "X");

  // Data variables: float32, one chunk per (member, lead, level) field.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const auto& name : variable_names_) {
    bool has_levels = false;
    for (const auto& ch : spec_.channels)
      has_levels = has_levels || (ch.variable == name && ch.level >= 0);
    std::vector<int> dims;
    std::vector<size_t> chunks;
    for (const auto& [axis, id] : dim_ids) {
      if (axis == Axis::level && !has_levels) continue;
      dims.push_back(id);
      chunks.push_back(axis == Axis::lat ? n_lat : axis == Axis::lon ? n_lon : 1);
    }
    const int varid = def_var(name, NC_FLOAT, dims);
    nc_check(nc_def_var_chunking(ncid_, varid, NC_CHUNKED, chunks.data()),
             "setting chunks of " + name, file);
    if (spec_.compression > 0) {
      nc_check(nc_def_var_deflate(ncid_, varid, 1, 1, static_cast<int>(spec_.compression)),
               "setting compression of " + name, file);
    }
    // NaN marks missing values (SST over land), as in the reference's files.
    nc_check(nc_put_att_float(ncid_, varid, "_FillValue", NC_FLOAT, 1, &nan),
             "writing _FillValue of " + name, file);
    if (const auto meta = cf_metadata_for(name)) {
      att.text(varid, "units", meta->units);
      att.text(varid, "long_name", meta->long_name);
      if (!meta->standard_name.empty()) att.text(varid, "standard_name", meta->standard_name);
    } else {
      spdlog::warn("output: no CF metadata known for variable {}; writing it without units", name);
      att.text(varid, "long_name", name);
    }
    // Makes xarray attach the valid/init times as coordinates, not data variables.
    if (!wb2) att.text(varid, "coordinates", "datetime forecast_reference_time");
    for (int c = 0; c < static_cast<int>(spec_.channels.size()); ++c) {
      if (spec_.channels[c].variable == name) {
        targets_.push_back({c, varid, spec_.channels[c].level});
      }
    }
  }

  // Global attributes.
  const std::string version = spec_.tool_version.empty() ? kVersion : spec_.tool_version;
  att.text(NC_GLOBAL, "Conventions", "CF-1.8");
  att.text(NC_GLOBAL, "title", "GenCast ensemble forecast");
  att.text(NC_GLOBAL, "source", "gencast-run " + version);
  att.text(NC_GLOBAL, "gencast_output_layout", output_layout_name(spec_.layout));
  if (!spec_.model_description.empty()) {
    att.text(NC_GLOBAL, "model_description", spec_.model_description);
  }
  if (!spec_.model_license.empty()) att.text(NC_GLOBAL, "model_license", spec_.model_license);
  if (!spec_.run_spec_yaml.empty()) att.text(NC_GLOBAL, "run_spec", spec_.run_spec_yaml);
  if (!spec_.run_fingerprint.empty()) att.text(NC_GLOBAL, kFingerprintAttribute, spec_.run_fingerprint);
  if (!spec_.run_identity.empty()) att.text(NC_GLOBAL, kIdentityAttribute, spec_.run_identity);
  att.text(NC_GLOBAL, "history",
           utc_now_iso() + " " + (spec_.command_line.empty() ? "gencast-run" : spec_.command_line));
  nc_check(nc_enddef(ncid_), "leaving define mode", file);

  // Coordinate values.
  static_assert(sizeof(long long) == sizeof(int64_t));
  const std::vector<long long> members(spec_.member_ids.begin(), spec_.member_ids.end());
  nc_check(nc_put_var_longlong(ncid_, member_var, members.data()), "writing members", file);
  std::vector<long long> leads(spec_.lead_hours.begin(), spec_.lead_hours.end());
  nc_check(nc_put_var_longlong(ncid_, lead_var, leads.data()), "writing lead times", file);
  const long long zero = 0;
  nc_check(nc_put_var_longlong(ncid_, init_var, &zero), "writing the init time", file);
  if (valid_var >= 0) {
    nc_check(nc_put_var_longlong(ncid_, valid_var, leads.data()), "writing valid times", file);
  }
  if (level_var >= 0) {
    std::vector<int> levels(spec_.levels.size());
    for (size_t i = 0; i < levels.size(); ++i) levels[i] = static_cast<int>(spec_.levels[i]);
    nc_check(nc_put_var_int(ncid_, level_var, levels.data()), "writing levels", file);
  }
  nc_check(nc_put_var_float(ncid_, lat_var, spec_.lat.data()), "writing lat", file);
  nc_check(nc_put_var_float(ncid_, lon_var, spec_.lon.data()), "writing lon", file);
}

void NetcdfForecastWriter::write_step(int member_index, int lead_index, const float* fields) {
  if (closed_ || ncid_ < 0) throw std::logic_error("NetcdfForecastWriter::write_step after close()");
  const auto n_members = static_cast<int>(spec_.member_ids.size());
  const auto n_leads = static_cast<int>(spec_.lead_hours.size());
  if (member_index < 0 || member_index >= n_members || lead_index < 0 || lead_index >= n_leads) {
    throw std::out_of_range("NetcdfForecastWriter::write_step: member " + std::to_string(member_index) +
                            " / lead " + std::to_string(lead_index) + " outside " +
                            std::to_string(n_members) + " x " + std::to_string(n_leads));
  }
  if (fields == nullptr) throw std::invalid_argument("NetcdfForecastWriter::write_step: null fields");
  auto& done = written_[static_cast<size_t>(member_index) * n_leads + lead_index];
  if (done) {
    throw std::logic_error("NetcdfForecastWriter::write_step: member " + std::to_string(member_index) +
                           " lead " + std::to_string(lead_index) + " written twice");
  }

  // Transpose the selected channels into contiguous lat/lon fields in one
  // sequential pass over the (grid-node-major) input.
  const size_t n_grid = spec_.lat.size() * spec_.lon.size();
  const size_t n_channels = spec_.channels.size();
  const size_t n_targets = targets_.size();
  scratch_.resize(n_targets * n_grid);
  for (size_t g = 0; g < n_grid; ++g) {
    const float* row = fields + g * n_channels;
    for (size_t t = 0; t < n_targets; ++t) {
      scratch_[t * n_grid + g] = row[targets_[t].channel];
    }
  }

  const LayoutAxes axes = layout_axes(spec_.layout);
  for (size_t t = 0; t < n_targets; ++t) {
    const ChannelTarget& target = targets_[t];
    std::vector<size_t> start, count;
    for (Axis a : axes.order) {
      switch (a) {
        case Axis::member:
          start.push_back(static_cast<size_t>(member_index));
          count.push_back(1);
          break;
        case Axis::lead:
          start.push_back(static_cast<size_t>(lead_index));
          count.push_back(1);
          break;
        case Axis::batch:
        case Axis::init:
          start.push_back(0);
          count.push_back(1);
          break;
        case Axis::level:
          if (target.level >= 0) {
            start.push_back(static_cast<size_t>(target.level));
            count.push_back(1);
          }
          break;
        case Axis::lat:
          start.push_back(0);
          count.push_back(spec_.lat.size());
          break;
        case Axis::lon:
          start.push_back(0);
          count.push_back(spec_.lon.size());
          break;
      }
    }
    nc_check(nc_put_vara_float(ncid_, target.varid, start.data(), count.data(),
                               scratch_.data() + t * n_grid),
             "writing " + spec_.channels[target.channel].variable, temp_path_);
  }
  done = 1;
}

void NetcdfForecastWriter::close() {
  if (closed_) return;
  const size_t n_leads = spec_.lead_hours.size();
  std::vector<std::string> missing;
  size_t n_missing = 0;
  for (size_t i = 0; i < written_.size(); ++i) {
    if (written_[i]) continue;
    if (++n_missing <= 5) {
      missing.push_back("member " + std::to_string(spec_.member_ids[i / n_leads]) + " at +" +
                        std::to_string(spec_.lead_hours[i % n_leads]) + " h");
    }
  }
  if (n_missing > 0) {
    discard();
    throw RuntimeFailure(spec_.path + ": forecast incomplete, " + std::to_string(n_missing) +
                         " of " + std::to_string(written_.size()) +
                         " (member, lead time) steps were never written (" + join(missing, ", ") +
                         (n_missing > missing.size() ? ", ..." : "") +
                         "); no output file was left behind");
  }
  const int status = nc_close(ncid_);
  ncid_ = -1;
  if (status != NC_NOERR) {
    discard();
    throw RuntimeFailure(temp_path_ + ": closing the output file failed: " + nc_strerror(status) +
                         space_note(temp_path_));
  }
  std::error_code ec;
  fs::rename(temp_path_, spec_.path, ec);
  if (ec) {
    discard();
    throw RuntimeFailure("cannot rename " + temp_path_ + " to " + spec_.path + ": " + ec.message());
  }
  closed_ = true;
}

std::string NetcdfForecastWriter::slow_write_hint() const {
  return spec_.compression > 0
             ? "zlib compression runs on one thread: --compression 0 writes several times faster"
             : "";
}

}  // namespace gencast
