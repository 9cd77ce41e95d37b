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
// - Data chunks bypass netCDF-C and HDF5's filter pipeline, which compress
//   one chunk at a time on the calling thread (~8 s for a 0.25 deg
//   member-step, three times the GPU's step): netCDF-C defines the file and
//   writes the coordinates, then the file is reopened with HDF5 and each
//   step's chunks, encoded on every core (io/chunk_codec.h), are stored with
//   H5Dwrite_chunk. The variables keep their shuffle + deflate filter
//   definitions, so readers decode the chunks as if HDF5 had written them.
// - output.compression N is recorded as deflate level N (what readers see)
//   and compressed with libdeflate at level N + 4 (at most 12, its maximum):
//   on forecast-like float fields libdeflate's levels 1-3 store 0.1-0.6 %
//   more than zlib's level 1, its level 5 0.7-1.9 % less while still
//   running ~1.4x as fast per core (BENCHMARKS.md), so the default files are
//   no larger than netCDF's own level-1 files.
// - keep_bits: nc_def_var_quantize records BitRound exactly as netCDF-C
//   does (the _QuantizeBitRoundNumberOfSignificantBits attribute); since
//   the data no longer passes through nc_put_vara, bitround() applies it.
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

#include "core/parallel.h"
#include "core/stopwatch.h"
#include "core/version.h"
#include "io/cf_metadata.h"
#include "io/durable_file.h"
#include "io/partial_output.h"
#include "io/chunk_codec.h"
#include "io/hdf5_chunk_file.h"

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

// Filter mask of a chunk stored shuffled but not deflated: bit i = filter i of
// the variable's pipeline (shuffle, deflate) skipped.
constexpr uint32_t kDeflateSkipped = 1u << 1;

// libdeflate's level for output.compression `level` (1-9): see the top.
int libdeflate_level(int64_t level) { return static_cast<int>(std::min<int64_t>(level + 4, 12)); }

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

void check_output_variables(const ForecastOutputSpec& spec,
                            const std::vector<std::string>& target_variables,
                            ProblemList& problems) {
  for (const auto& name : spec.variables) {
    if (std::find(target_variables.begin(), target_variables.end(), name) ==
        target_variables.end()) {
      problems.add(spec.spec_file, "output.variables",
                   "target variables among: " + join(target_variables, ", "),
                   "unknown variable '" + name + "'",
                   "leave output.variables empty to write every target variable");
    }
  }
}

void check_output_options(const ForecastOutputSpec& spec,
                          const std::vector<std::string>& target_variables, ProblemList& problems) {
  check_output_path(spec.path, problems);
  check_output_variables(spec, target_variables, problems);
  if (spec.compression < 0 || spec.compression > 9) {
    problems.add(spec.spec_file, "output.compression", "a zlib level from 0 (off) to 9",
                 std::to_string(spec.compression), "1 is fast and already saves most space");
  }
  if (spec.keep_bits < 0 || spec.keep_bits > kMaxKeepBits) {
    problems.add(spec.spec_file, "output.keep_bits",
                 "a number of float32 mantissa bits from 1 to 23 (absent = lossless)",
                 std::to_string(spec.keep_bits));
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
  prepare();
  try {
    define_file();
    open_for_chunks();
  } catch (...) {
    discard();
    throw;
  }
}

NetcdfForecastWriter::NetcdfForecastWriter(ForecastOutputSpec spec,
                                           std::vector<unsigned char> written)
    : spec_(std::move(spec)) {
  prepare();
  if (written.size() != written_.size())
    throw std::invalid_argument("NetcdfForecastWriter: `written` is not members x leads");
  written_ = std::move(written);
  try {
    reopen_file();
    open_for_chunks();
    flush();
  } catch (...) {
    // The file is an interrupted run's work: never delete it on a failed reopen.
    if (h5_) h5_->abandon();
    h5_.reset();
    if (ncid_ >= 0) nc_close(ncid_);
    ncid_ = -1;
    closed_ = true;
    throw;
  }
}

void NetcdfForecastWriter::prepare() {
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
  temp_path_ = partial_output_paths(spec_.path).data;
}

NetcdfForecastWriter::~NetcdfForecastWriter() {
  if (!closed_) discard();
}

void NetcdfForecastWriter::discard() noexcept {
  if (h5_) {
    h5_->abandon();
    h5_.reset();
  }
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
    if (spec_.keep_bits > 0) {
      nc_check(nc_def_var_quantize(ncid_, varid, NC_QUANTIZE_BITROUND,
                                   static_cast<int>(spec_.keep_bits)),
               "setting the quantization of " + name, file);
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
    add_targets(name);
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
  // Closed here: the data goes in through HDF5 (open_for_chunks).
  status = nc_close(ncid_);
  ncid_ = -1;
  nc_check(status, "writing the file's definitions", file);
}

void NetcdfForecastWriter::add_targets(const std::string& variable) {
  for (int c = 0; c < static_cast<int>(spec_.channels.size()); ++c) {
    if (spec_.channels[c].variable == variable) {
      targets_.push_back({c, variable, spec_.channels[c].level, -1});
    }
  }
}

void NetcdfForecastWriter::reopen_file() {
  const std::string& file = temp_path_;
  int status = nc_open(file.c_str(), NC_WRITE, &ncid_);
  if (status != NC_NOERR) {
    ncid_ = -1;
    throw RuntimeFailure(file + ": cannot reopen the partial output: " + nc_strerror(status));
  }
  // Each written variable must be there with the shape this spec defines.
  const LayoutAxes axes = layout_axes(spec_.layout);
  for (const auto& name : variable_names_) {
    int varid = -1;
    if (nc_inq_varid(ncid_, name.c_str(), &varid) != NC_NOERR)
      throw RuntimeFailure(file + ": the partial output has no variable " + name);
    int ndims = 0;
    nc_check(nc_inq_varndims(ncid_, varid, &ndims), "reading variable " + name, file);
    std::vector<int> dims(static_cast<size_t>(ndims));
    nc_check(nc_inq_vardimid(ncid_, varid, dims.data()), "reading variable " + name, file);
    size_t points = 1;
    for (int d : dims) {
      size_t len = 0;
      nc_check(nc_inq_dimlen(ncid_, d, &len), "reading variable " + name, file);
      points *= len;
    }
    bool has_levels = false;
    for (const auto& ch : spec_.channels) has_levels = has_levels || (ch.variable == name && ch.level >= 0);
    const size_t expected = spec_.member_ids.size() * spec_.lead_hours.size() *
                            (has_levels ? spec_.levels.size() : 1) * spec_.lat.size() *
                            spec_.lon.size();
    const size_t expected_rank = axes.order.size() - (has_levels ? 0 : 1);
    if (points != expected || static_cast<size_t>(ndims) != expected_rank)
      throw RuntimeFailure(file + ": variable " + name + " of the partial output has another shape than this run's");
    add_targets(name);
  }
  // Provenance: the history attribute says when the file was continued.
  size_t old_len = 0;
  std::string history;
  if (nc_inq_attlen(ncid_, NC_GLOBAL, "history", &old_len) == NC_NOERR) {
    history.resize(old_len);
    nc_check(nc_get_att_text(ncid_, NC_GLOBAL, "history", history.data()), "reading history", file);
  }
  const std::string line =
      utc_now_iso() + " resumed: " + (spec_.command_line.empty() ? "gencast-run" : spec_.command_line);
  nc_check(nc_redef(ncid_), "entering define mode", file);
  AttributeWriter(ncid_, file).text(NC_GLOBAL, "history", history.empty() ? line : line + "\n" + history);
  nc_check(nc_enddef(ncid_), "leaving define mode", file);
  // Closed here, as after define_file: the data goes in through HDF5.
  status = nc_close(ncid_);
  ncid_ = -1;
  nc_check(status, "updating the partial output's history", file);
}

void NetcdfForecastWriter::open_for_chunks() {
  h5_ = std::make_unique<Hdf5ChunkFile>(temp_path_);
  // One dataset handle per variable, shared by its levels.
  std::vector<std::pair<std::string, int>> opened;
  for (auto& target : targets_) {
    auto it = std::find_if(opened.begin(), opened.end(),
                           [&](const auto& o) { return o.first == target.variable; });
    if (it == opened.end()) {
      opened.emplace_back(target.variable, h5_->open_dataset(target.variable));
      it = opened.end() - 1;
    }
    target.dataset = it->second;
  }
  encode_order_.resize(targets_.size());
  for (size_t t = 0; t < targets_.size(); ++t) encode_order_[t] = static_cast<int>(t);
  std::stable_sort(encode_order_.begin(), encode_order_.end(),
                   [&](int a, int b) { return targets_[a].level < targets_[b].level; });
  stored_.resize(targets_.size());
}

std::vector<uint64_t> forecast_chunk_offset(OutputLayout layout, int level, int member, int lead) {
  std::vector<uint64_t> offset;
  for (Axis a : layout_axes(layout).order) {
    switch (a) {
      case Axis::member:
        offset.push_back(static_cast<uint64_t>(member));
        break;
      case Axis::lead:
        offset.push_back(static_cast<uint64_t>(lead));
        break;
      case Axis::level:
        if (level >= 0) offset.push_back(static_cast<uint64_t>(level));
        break;
      case Axis::batch:
      case Axis::init:
      case Axis::lat:
      case Axis::lon:
        offset.push_back(0);
        break;
    }
  }
  return offset;
}

std::vector<uint64_t> NetcdfForecastWriter::chunk_offset(const ChannelTarget& target, int member,
                                                        int lead) const {
  return forecast_chunk_offset(spec_.layout, target.level, member, lead);
}

unsigned char& NetcdfForecastWriter::unwritten_step(int member_index, int lead_index,
                                                    const char* caller) {
  if (closed_ || !h5_)
    throw std::logic_error(std::string("NetcdfForecastWriter::") + caller + " after close()");
  const auto n_members = static_cast<int>(spec_.member_ids.size());
  const auto n_leads = static_cast<int>(spec_.lead_hours.size());
  if (member_index < 0 || member_index >= n_members || lead_index < 0 || lead_index >= n_leads) {
    throw std::out_of_range(std::string("NetcdfForecastWriter::") + caller + ": member " +
                            std::to_string(member_index) + " / lead " + std::to_string(lead_index) +
                            " outside " + std::to_string(n_members) + " x " + std::to_string(n_leads));
  }
  auto& done = written_[static_cast<size_t>(member_index) * n_leads + lead_index];
  if (done) {
    throw std::logic_error(std::string("NetcdfForecastWriter::") + caller + ": member " +
                           std::to_string(member_index) + " lead " + std::to_string(lead_index) +
                           " written twice");
  }
  return done;
}

void NetcdfForecastWriter::write_chunks(int member_index, int lead_index,
                                        const std::vector<ForecastChunk>& chunks) {
  auto& done = unwritten_step(member_index, lead_index, "write_chunks");
  if (chunks.size() != spec_.channels.size() || targets_.size() != spec_.channels.size())
    throw std::invalid_argument("NetcdfForecastWriter::write_chunks: " + std::to_string(chunks.size()) +
                                " chunks for " + std::to_string(targets_.size()) + " of " +
                                std::to_string(spec_.channels.size()) + " channels written");
  Stopwatch store;
  for (const ChannelTarget& target : targets_) {
    const ForecastChunk& chunk = chunks[static_cast<size_t>(target.channel)];
    try {
      h5_->write_chunk(target.dataset, chunk_offset(target, member_index, lead_index),
                       chunk.filter_mask, chunk.bytes.data(), chunk.bytes.size());
    } catch (const RuntimeFailure& e) {
      throw RuntimeFailure(std::string(e.what()) + space_note(temp_path_));
    }
    timings_.stored_bytes += static_cast<int64_t>(chunk.bytes.size());
  }
  timings_.store += store.lap();
  timings_.raw_bytes += static_cast<int64_t>(targets_.size() * spec_.lat.size() * spec_.lon.size() *
                                             sizeof(float));
  ++timings_.steps;
  done = 1;
}

void NetcdfForecastWriter::write_step(int member_index, int lead_index, const float* fields) {
  auto& done = unwritten_step(member_index, lead_index, "write_step");
  if (fields == nullptr) throw std::invalid_argument("NetcdfForecastWriter::write_step: null fields");
  // Transpose the selected channels into contiguous lat/lon fields, each
  // thread a contiguous range of grid nodes (sequential reads of the input).
  Stopwatch phase;
  const size_t n_grid = spec_.lat.size() * spec_.lon.size();
  const size_t n_channels = spec_.channels.size();
  const size_t n_targets = targets_.size();
  scratch_.resize(n_targets * n_grid);
  parallel_for(
      static_cast<int64_t>(n_grid),
      [&](int64_t begin, int64_t end) {
        for (auto g = static_cast<size_t>(begin); g < static_cast<size_t>(end); ++g) {
          const float* row = fields + g * n_channels;
          for (size_t t = 0; t < n_targets; ++t) {
            scratch_[t * n_grid + g] = row[targets_[t].channel];
          }
        }
      },
      parallel_min_rows(static_cast<int64_t>(n_targets)));
  timings_.gather += phase.lap();

  // Encode every chunk (a field of ~1 M values at 0.25 deg: one row each).
  parallel_for(
      static_cast<int64_t>(n_targets),
      [&](int64_t begin, int64_t end) { encode_targets(begin, end); },
      parallel_min_rows(static_cast<int64_t>(n_grid) * 16));
  timings_.encode += phase.lap();

  // Store them, on this thread: HDF5 takes one call at a time anyway.
  for (size_t t = 0; t < n_targets; ++t) {
    const ChannelTarget& target = targets_[t];
    const auto* bytes = reinterpret_cast<const uint8_t*>(scratch_.data() + t * n_grid);
    try {
      h5_->write_chunk(target.dataset, chunk_offset(target, member_index, lead_index),
                       stored_[t].filter_mask, bytes, stored_[t].size);
    } catch (const RuntimeFailure& e) {
      throw RuntimeFailure(std::string(e.what()) + space_note(temp_path_));
    }
    timings_.stored_bytes += static_cast<int64_t>(stored_[t].size);
  }
  timings_.store += phase.lap();
  timings_.raw_bytes += static_cast<int64_t>(n_targets * n_grid * sizeof(float));
  ++timings_.steps;
  done = 1;
}

// The rows [begin, end) of encode_order_: each field of scratch_ becomes, in
// place, the bytes its chunk stores (stored_[t] says how many): BitRound,
// then (compression on) shuffle into a buffer of this range and deflate back
// into the field's own memory, which the shuffle has freed. A chunk that
// deflate cannot shrink is stored shuffled only, with deflate marked as
// skipped in its filter mask -- as HDF5's optional deflate filter does it.
void NetcdfForecastWriter::encode_targets(int64_t begin, int64_t end) {
  const size_t n_grid = spec_.lat.size() * spec_.lon.size();
  std::vector<uint8_t> shuffled;
  std::unique_ptr<ChunkDeflater> deflater;
  if (spec_.compression > 0) {
    shuffled.resize(n_grid * sizeof(float));
    deflater = std::make_unique<ChunkDeflater>(libdeflate_level(spec_.compression));
  }
  const size_t field_bytes = n_grid * sizeof(float);
  for (int64_t row = begin; row < end; ++row) {
    const auto t = static_cast<size_t>(encode_order_[static_cast<size_t>(row)]);
    float* field = scratch_.data() + t * n_grid;
    if (spec_.keep_bits > 0) bitround(field, n_grid, static_cast<int>(spec_.keep_bits));
    stored_[t] = {field_bytes, 0};
    if (!deflater) continue;
    shuffle_bytes(field, n_grid, sizeof(float), shuffled.data());
    auto* out = reinterpret_cast<uint8_t*>(field);
    const size_t size = deflater->compress(shuffled.data(), field_bytes, out, field_bytes);
    if (size > 0) {
      stored_[t].size = size;
    } else {
      std::memcpy(out, shuffled.data(), field_bytes);
      stored_[t].filter_mask = kDeflateSkipped;
    }
  }
}

void NetcdfForecastWriter::flush() {
  if (closed_ || !h5_) throw std::logic_error("NetcdfForecastWriter::flush after close()");
  try {
    h5_->flush();
  } catch (const RuntimeFailure& e) {
    throw RuntimeFailure(std::string(e.what()) + space_note(temp_path_));
  }
}

void NetcdfForecastWriter::suspend() {
  if (closed_) return;
  closed_ = true;  // kept, whatever happens next: its journal says what it holds
  if (h5_) {
    try {
      h5_->close();
    } catch (const RuntimeFailure&) {
      h5_.reset();  // released whatever happened (strong close degree)
      throw;
    }
    h5_.reset();
  }
  fsync_file(temp_path_);
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
  try {
    h5_->close();
  } catch (const RuntimeFailure&) {
    discard();
    throw;
  }
  h5_.reset();
  std::error_code ec;
  fs::rename(temp_path_, spec_.path, ec);
  if (ec) {
    discard();
    throw RuntimeFailure("cannot rename " + temp_path_ + " to " + spec_.path + ": " + ec.message());
  }
  closed_ = true;
}

std::string NetcdfForecastWriter::slow_write_hint() const {
  if (spec_.compression <= 0) return "";
  return "the output is compressed on " + std::to_string(parallel_worker_count()) +
         " core(s), shared with the forecast's own host work; --compression 0 skips "
         "compression (files ~1.7x larger), and other busy processes on this host slow it down";
}

}  // namespace gencast
