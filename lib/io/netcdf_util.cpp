// netCDF-C helpers and CF time arithmetic (see netcdf_util.h for the contract).
#include "io/netcdf_util.h"

#include <hdf5.h>
#include <netcdf.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <utility>

#include "core/error.h"
#include "io/open_observer.h"

namespace gencast {
namespace {

constexpr int64_t kNsPerSecond = 1000000000;
constexpr int64_t kSecondsPerDay = 86400;

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Nanoseconds per CF/udunits duration unit; 0 when unknown.
int64_t unit_nanoseconds(const std::string& unit_in) {
  const std::string u = lower(trim(unit_in));
  if (u == "ns" || u == "nanosecond" || u == "nanoseconds") return 1;
  if (u == "us" || u == "microsecond" || u == "microseconds") return 1000;
  if (u == "ms" || u == "millisecond" || u == "milliseconds") return 1000000;
  if (u == "s" || u == "sec" || u == "secs" || u == "second" || u == "seconds") return kNsPerSecond;
  if (u == "min" || u == "mins" || u == "minute" || u == "minutes") return 60 * kNsPerSecond;
  if (u == "h" || u == "hr" || u == "hrs" || u == "hour" || u == "hours") return 3600 * kNsPerSecond;
  if (u == "d" || u == "day" || u == "days") return kSecondsPerDay * kNsPerSecond;
  return 0;
}

// A tiny cursor-based parser for date-time text.
struct Cursor {
  const std::string& s;
  size_t i = 0;
  bool at_end() const { return i >= s.size(); }
  char peek() const { return at_end() ? '\0' : s[i]; }
  void skip_spaces() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i;
    return true;
  }
  // Reads 1..max_digits decimal digits.
  bool number(int64_t& out, size_t max_digits) {
    size_t n = 0;
    out = 0;
    while (!at_end() && n < max_digits && std::isdigit(static_cast<unsigned char>(s[i]))) {
      out = out * 10 + (s[i] - '0');
      ++i;
      ++n;
    }
    return n > 0;
  }
};

int64_t days_in_month(int64_t year, int64_t month) {
  static const int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// Parses "Y-M-D[(T| )h[:m[:s[.f]]]][ ][Z|UTC|GMT|(+|-)hh[:mm]]" into unix seconds.
bool parse_datetime_text(const std::string& text, int64_t& out_seconds) {
  Cursor c{text};
  c.skip_spaces();
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!c.number(year, 4) || !c.eat('-') || !c.number(month, 2) || !c.eat('-') ||
      !c.number(day, 2))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  const size_t before_time = c.i;
  if (c.eat('T') || c.eat(' ')) {
    c.skip_spaces();
    if (c.number(hour, 2)) {
      if (c.eat(':')) {
        if (!c.number(minute, 2)) return false;
        if (c.eat(':')) {
          if (!c.number(second, 2)) return false;
          if (c.eat('.')) {  // fractional seconds: only whole-second times are meaningful here
            int64_t frac = 0;
            if (!c.number(frac, 18)) return false;
          }
        }
      }
    } else {
      c.i = before_time;  // a space not followed by a time: maybe a time zone
    }
  }
  if (hour > 24 || minute > 59 || second > 60) return false;
  c.skip_spaces();
  int64_t offset_s = 0;
  if (!c.at_end()) {
    const std::string rest = lower(trim(text.substr(c.i)));
    if (rest == "z" || rest == "utc" || rest == "gmt") {
      c.i = text.size();
    } else if (c.peek() == '+' || c.peek() == '-') {
      const int64_t sign = c.peek() == '-' ? -1 : 1;
      ++c.i;
      int64_t oh = 0, om = 0;
      if (!c.number(oh, 2)) return false;
      if (c.eat(':')) {
        if (!c.number(om, 2)) return false;
      } else {
        c.number(om, 2);
      }
      offset_s = sign * (oh * 3600 + om * 60);
    }
    c.skip_spaces();
    if (!c.at_end()) return false;
  }
  out_seconds = days_from_civil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 +
                second - offset_s;
  return true;
}

}  // namespace

// ---- errors and files ------------------------------------------------------

namespace {

// HDF5 1.10 registers an atexit cleanup that flushes and closes every file
// still open. After a close that failed (a full disk: nc_close returns an
// error, netCDF frees its side of the file) HDF5 keeps a dangling file ID,
// and that cleanup segfaults in H5F__close_cb: a clean "exit 1" became exit
// 139. We close (or discard) every file ourselves, so the cleanup has nothing
// to do: it is switched off before anything starts the library.
const bool g_hdf5_atexit_off = [] {
  H5dont_atexit();
  return true;
}();

}  // namespace

void nc_check(int status, const std::string& context) {
  if (status != NC_NOERR) throw NcError(status, context + ": " + nc_strerror(status));
}

Problem nc_read_problem(const std::string& path, const std::string& field, const NcError& error) {
  return Problem{path, field, "a readable NetCDF file",
                 std::string("a read error (") + error.what() + ")",
                 "the file is corrupt or truncated: re-download or re-export it "
                 "(`ncdump FILE > /dev/null` reads every value)"};
}

NcFile NcFile::open_read(const std::string& path) {
  notify_file_open(path, "NetCDF/HDF5");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    fail_input(path, "", "an existing NetCDF file", "no such file");
  if (std::filesystem::is_directory(path, ec))
    fail_input(path, "", "a NetCDF file", "a directory");
  // A FIFO would block nc_open until a writer comes; a device would be read forever.
  if (!std::filesystem::is_regular_file(path, ec))
    fail_input(path, "", "a NetCDF file", "a special file (device, FIFO or socket)");
  int ncid = -1;
  const int status = nc_open(path.c_str(), NC_NOWRITE, &ncid);
  if (status != NC_NOERR) {
    std::string found = nc_strerror(status);
    if (status == NC_ENOTNC) found = "not a NetCDF file (unknown file format)";
    fail_input(path, "", "a NetCDF file (classic or NetCDF-4/HDF5)", found,
               "is the download complete? `ncdump -h FILE` should list its variables");
  }
  return NcFile(ncid, path);
}

NcFile NcFile::create(const std::string& path) {
  int ncid = -1;
  nc_check(nc_create(path.c_str(), NC_NETCDF4 | NC_CLOBBER, &ncid), "creating " + path);
  return NcFile(ncid, path);
}

NcFile::NcFile(NcFile&& other) noexcept
    : ncid_(std::exchange(other.ncid_, -1)), path_(std::move(other.path_)) {}

NcFile& NcFile::operator=(NcFile&& other) noexcept {
  if (this != &other) {
    if (ncid_ >= 0) nc_close(ncid_);
    ncid_ = std::exchange(other.ncid_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

NcFile::~NcFile() {
  if (ncid_ >= 0) nc_close(ncid_);
}

void NcFile::close() {
  if (ncid_ < 0) return;
  const int id = std::exchange(ncid_, -1);
  nc_check(nc_close(id), "closing " + path_);
}

// ---- variables and attributes ------------------------------------------------

size_t NcVarInfo::numel() const {
  size_t n = 1;
  for (size_t s : sizes) n *= s;
  return n;
}

int NcVarInfo::dim_index(const std::string& dim) const {
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] == dim) return static_cast<int>(i);
  return -1;
}

std::string NcVarInfo::dims_string() const {
  std::string out = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += ", ";
    out += dims[i];
  }
  return out + ")";
}

bool NcVarInfo::is_integer_type() const {
  switch (type) {
    case NC_BYTE: case NC_UBYTE: case NC_SHORT: case NC_USHORT:
    case NC_INT: case NC_UINT: case NC_INT64: case NC_UINT64:
      return true;
    default:
      return false;
  }
}

std::optional<int> nc_find_group(int ncid, const std::string& name) {
  int gid = -1;
  if (nc_inq_grp_ncid(ncid, name.c_str(), &gid) != NC_NOERR) return std::nullopt;
  return gid;
}

std::optional<NcVarInfo> nc_find_var(int ncid, const std::string& name) {
  int varid = -1;
  if (nc_inq_varid(ncid, name.c_str(), &varid) != NC_NOERR) return std::nullopt;
  NcVarInfo info;
  info.ncid = ncid;
  info.varid = varid;
  info.name = name;
  int ndims = 0;
  nc_type type = 0;
  nc_check(nc_inq_var(ncid, varid, nullptr, &type, &ndims, nullptr, nullptr),
           "inspecting variable " + name);
  info.type = type;
  std::vector<int> dimids(static_cast<size_t>(ndims));
  if (ndims > 0)
    nc_check(nc_inq_vardimid(ncid, varid, dimids.data()), "inspecting variable " + name);
  for (int d : dimids) {
    char dim_name[NC_MAX_NAME + 1] = {};
    size_t len = 0;
    nc_check(nc_inq_dim(ncid, d, dim_name, &len), "inspecting a dimension of " + name);
    info.dims.emplace_back(dim_name);
    info.sizes.push_back(len);
  }
  return info;
}

std::vector<std::string> nc_var_names(int ncid) {
  int nvars = 0;
  nc_check(nc_inq_varids(ncid, &nvars, nullptr), "listing variables");
  std::vector<int> ids(static_cast<size_t>(nvars));
  if (nvars > 0) nc_check(nc_inq_varids(ncid, &nvars, ids.data()), "listing variables");
  std::vector<std::string> names;
  for (int id : ids) {
    char name[NC_MAX_NAME + 1] = {};
    nc_check(nc_inq_varname(ncid, id, name), "listing variables");
    names.emplace_back(name);
  }
  return names;
}

std::optional<size_t> nc_dim_length(int ncid, const std::string& name) {
  int dimid = -1;
  if (nc_inq_dimid(ncid, name.c_str(), &dimid) != NC_NOERR) return std::nullopt;
  size_t len = 0;
  nc_check(nc_inq_dimlen(ncid, dimid, &len), "reading dimension " + name);
  return len;
}

std::optional<std::string> nc_text_attr(int ncid, int varid, const std::string& name) {
  nc_type type = 0;
  size_t len = 0;
  if (nc_inq_att(ncid, varid, name.c_str(), &type, &len) != NC_NOERR) return std::nullopt;
  if (type == NC_CHAR) {
    std::string value(len, '\0');
    if (len > 0) nc_check(nc_get_att_text(ncid, varid, name.c_str(), value.data()),
                          "reading attribute " + name);
    while (!value.empty() && value.back() == '\0') value.pop_back();
    return value;
  }
  if (type == NC_STRING) {
    if (len == 0) return std::string();
    std::vector<char*> values(len, nullptr);
    nc_check(nc_get_att_string(ncid, varid, name.c_str(), values.data()),
             "reading attribute " + name);
    std::string value = values[0] ? values[0] : "";
    nc_free_string(len, values.data());
    return value;
  }
  return std::nullopt;
}

std::optional<double> nc_number_attr(int ncid, int varid, const std::string& name) {
  nc_type type = 0;
  size_t len = 0;
  if (nc_inq_att(ncid, varid, name.c_str(), &type, &len) != NC_NOERR) return std::nullopt;
  if (len == 0 || type == NC_CHAR || type == NC_STRING) return std::nullopt;
  std::vector<double> values(len);
  nc_check(nc_get_att_double(ncid, varid, name.c_str(), values.data()),
           "reading attribute " + name);
  return values[0];
}

void nc_put_text_attr(int ncid, int varid, const std::string& name, const std::string& value) {
  nc_check(nc_put_att_text(ncid, varid, name.c_str(), value.size(), value.c_str()),
           "writing attribute " + name);
}

// ---- reading data ----------------------------------------------------------------

void nc_read_f32(const NcVarInfo& var, const std::vector<size_t>& start,
                 const std::vector<size_t>& count, float* out) {
  const std::string context = "reading variable " + var.name;
  size_t n = 1;
  for (size_t c : count) n *= c;
  if (var.dims.empty()) {
    nc_check(nc_get_var_float(var.ncid, var.varid, out), context);
  } else {
    nc_check(nc_get_vara_float(var.ncid, var.varid, start.data(), count.data(), out), context);
  }
  NcCfDecoding::of(var).apply(out, n);
}

NcCfDecoding NcCfDecoding::of(const NcVarInfo& var) {
  // Without an explicit _FillValue, netCDF's default fill marks never-written
  // float data; real fields never hold 9.97e36, so treat it as missing.
  std::optional<double> fill = nc_number_attr(var.ncid, var.varid, "_FillValue");
  if (!fill && var.type == NC_FLOAT) fill = static_cast<double>(NC_FILL_FLOAT);
  if (!fill && var.type == NC_DOUBLE) fill = NC_FILL_DOUBLE;
  const std::optional<double> missing = nc_number_attr(var.ncid, var.varid, "missing_value");
  const std::optional<double> scale = nc_number_attr(var.ncid, var.varid, "scale_factor");
  const std::optional<double> offset = nc_number_attr(var.ncid, var.varid, "add_offset");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  NcCfDecoding d;
  // Compare in float: the packed value went through the same double->float conversion.
  d.fill = fill ? static_cast<float>(*fill) : nan;
  d.missing = missing ? static_cast<float>(*missing) : nan;
  d.packed = scale.has_value() || offset.has_value();
  d.scale = scale.value_or(1.0);
  d.offset = offset.value_or(0.0);
  return d;
}

void NcCfDecoding::apply(float* values, size_t count) const {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  if (!packed) {  // the common case, branch-free so that it vectorizes
    for (size_t i = 0; i < count; ++i) {
      const float v = values[i];
      values[i] = ((v == fill) | (v == missing)) ? nan : v;
    }
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    const float v = values[i];
    values[i] = v == fill || v == missing
                    ? nan
                    : static_cast<float>(static_cast<double>(v) * scale + offset);
  }
}

std::vector<float> nc_read_all_f32(const NcVarInfo& var) {
  std::vector<float> out(var.numel());
  std::vector<size_t> start(var.sizes.size(), 0);
  nc_read_f32(var, start, var.sizes, out.data());
  return out;
}

std::vector<double> nc_read_all_f64(const NcVarInfo& var) {
  std::vector<double> out(var.numel());
  nc_check(nc_get_var_double(var.ncid, var.varid, out.data()), "reading variable " + var.name);
  return out;
}

std::vector<int64_t> nc_read_all_i64(const NcVarInfo& var) {
  std::vector<long long> raw(var.numel());
  nc_check(nc_get_var_longlong(var.ncid, var.varid, raw.data()), "reading variable " + var.name);
  return std::vector<int64_t>(raw.begin(), raw.end());
}

// ---- CF time ---------------------------------------------------------------------

std::optional<CfTimeUnits> parse_cf_time_units(const std::string& units) {
  const std::string text = trim(units);
  const size_t since = lower(text).find(" since ");
  CfTimeUnits out;
  if (since == std::string::npos) {
    out.unit_ns = unit_nanoseconds(text);
    if (out.unit_ns == 0) return std::nullopt;
    return out;
  }
  out.unit_ns = unit_nanoseconds(text.substr(0, since));
  if (out.unit_ns == 0) return std::nullopt;
  out.is_datetime = true;
  if (!parse_datetime_text(text.substr(since + 7), out.epoch_s)) return std::nullopt;
  return out;
}

bool is_gregorian_calendar(const std::string& calendar) {
  const std::string c = lower(trim(calendar));
  return c.empty() || c == "standard" || c == "gregorian" || c == "proleptic_gregorian";
}

std::vector<int64_t> nc_read_time_seconds(const NcVarInfo& var, const CfTimeUnits& units) {
  const int64_t base = units.is_datetime ? units.epoch_s : 0;
  std::vector<int64_t> out;
  if (var.is_integer_type()) {
    for (int64_t v : nc_read_all_i64(var)) {
      int64_t offset = 0;
      if (units.unit_ns % kNsPerSecond == 0) {
        offset = v * (units.unit_ns / kNsPerSecond);
      } else {
        // Sub-second units (e.g. xarray's nanoseconds): exact integer division.
        offset = floor_div(v, kNsPerSecond / units.unit_ns);
      }
      out.push_back(base + offset);
    }
  } else {
    const long double seconds_per_unit =
        static_cast<long double>(units.unit_ns) / static_cast<long double>(kNsPerSecond);
    for (double v : nc_read_all_f64(var)) {
      if (!std::isfinite(v)) {
        out.push_back(std::numeric_limits<int64_t>::min());  // caller reports it
        continue;
      }
      out.push_back(base + std::llround(static_cast<long double>(v) * seconds_per_unit));
    }
  }
  return out;
}

int64_t days_from_civil(int64_t year, int64_t month, int64_t day) {
  // Shift the year to start in March so the leap day is the year's last day.
  const int64_t y = month <= 2 ? year - 1 : year;
  const int64_t era = floor_div(y, 400);
  const int64_t year_of_era = y - era * 400;                        // [0, 399]
  const int64_t month_from_march = month > 2 ? month - 3 : month + 9;  // [0, 11]
  const int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;  // 719468 = days from 0000-03-01 to 1970-01-01
}

void civil_from_days(int64_t days, int64_t& year, int64_t& month, int64_t& day) {
  const int64_t z = days + 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t day_of_era = z - era * 146097;  // [0, 146096]
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;  // month from March, [0, 11]
  day = day_of_year - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
}

int64_t parse_iso_time(const std::string& text, const std::string& context) {
  int64_t seconds = 0;
  if (!parse_datetime_text(text, seconds))
    fail_input("", context, "an ISO-8601 UTC time such as 2019-03-29T12:00",
               "'" + text + "'");
  return seconds;
}

std::string format_iso_time(int64_t unix_seconds) {
  const int64_t days = floor_div(unix_seconds, kSecondsPerDay);
  const int64_t rem = unix_seconds - days * kSecondsPerDay;
  int64_t y = 0, m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buf[128];
  const long long hh = rem / 3600, mm = (rem % 3600) / 60, ss = rem % 60;
  if (ss != 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                  static_cast<long long>(y), static_cast<long long>(m),
                  static_cast<long long>(d), hh, mm, ss);
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld",
                  static_cast<long long>(y), static_cast<long long>(m),
                  static_cast<long long>(d), hh, mm);
  }
  return buf;
}

}  // namespace gencast
