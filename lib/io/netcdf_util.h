// Small generic helpers over the netCDF-C API, shared by the input reader,
// the statistics reader and the forecast writer: an RAII file handle,
// variable/attribute lookup, reading hyperslabs as float32 with CF packing
// decoded, and CF time handling ("hours since 2019-03-29 00:00:00",
// timedelta units, ISO-8601 strings).
//
// Invariants: nothing here knows about GenCast variables. Lookups of things
// that may legitimately be absent return std::optional; failures of the
// library on a file that was opened fine are RuntimeFailure (exit 1); a file
// that cannot be opened as NetCDF is an InputError (exit 2).
// Times are int64 seconds since 1970-01-01T00:00:00 UTC, proleptic Gregorian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace gencast {

// A failure reported by the netCDF library (status code and text). A
// RuntimeFailure (exit 1) where it happens; the readers of input and
// statistics files turn it into an InputError naming the file, since a file
// the library cannot read is corrupt or truncated.
class NcError : public RuntimeFailure {
 public:
  NcError(int status, const std::string& message) : RuntimeFailure(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// Throws NcError "<context>: <netCDF error text>" unless status is NC_NOERR.
void nc_check(int status, const std::string& context);

// The problem "`path`: `field`: expected a readable NetCDF file, found a read
// error (<library text>)" with the corrupt-file hint.
Problem nc_read_problem(const std::string& path, const std::string& field, const NcError& error);

// Runs `read`, which reads the file `path`; a library failure (NcError) is
// recorded as nc_read_problem(path, field) instead of propagating. False when
// it failed.
template <class F>
bool nc_collect_read(const std::string& path, const std::string& field, ProblemList& problems,
                     F&& read) {
  try {
    read();
    return true;
  } catch (const NcError& e) {
    problems.add(nc_read_problem(path, field, e));
    return false;
  }
}

// Owns one open netCDF dataset; closes it on destruction.
class NcFile {
 public:
  // Opens read-only. InputError (naming the path) when the file does not exist,
  // is not a regular file or is not a NetCDF (classic or HDF5-based) file.
  static NcFile open_read(const std::string& path);
  // Creates (clobbering) a NetCDF-4 file. RuntimeFailure on failure.
  static NcFile create(const std::string& path);

  NcFile(NcFile&& other) noexcept;
  NcFile& operator=(NcFile&& other) noexcept;
  NcFile(const NcFile&) = delete;
  NcFile& operator=(const NcFile&) = delete;
  ~NcFile();

  int id() const { return ncid_; }
  const std::string& path() const { return path_; }
  // Closes now and reports a failure (e.g. when flushing a written file).
  void close();

 private:
  NcFile(int ncid, std::string path) : ncid_(ncid), path_(std::move(path)) {}
  int ncid_ = -1;
  std::string path_;
};

// A variable as seen through its (group) id: enough to read it and to
// describe it in messages.
struct NcVarInfo {
  int ncid = -1;   // file or group id
  int varid = -1;
  std::string name;
  int type = 0;    // nc_type
  std::vector<std::string> dims;  // dimension names, in storage order
  std::vector<size_t> sizes;      // dimension lengths, same order

  size_t numel() const;
  // Position of the named dimension in `dims`, or -1.
  int dim_index(const std::string& dim) const;
  // "(batch, time, lat, lon)" for messages.
  std::string dims_string() const;
  bool is_integer_type() const;
};

// Child group `name` of `ncid`, if present.
std::optional<int> nc_find_group(int ncid, const std::string& name);
// Variable `name` in group `ncid`, if present.
std::optional<NcVarInfo> nc_find_var(int ncid, const std::string& name);
// Names of all variables of group `ncid`, in file order.
std::vector<std::string> nc_var_names(int ncid);
// Length of dimension `name` visible from group `ncid`, if it exists.
std::optional<size_t> nc_dim_length(int ncid, const std::string& name);

// Text attribute (NC_CHAR or NC_STRING); varid NC_GLOBAL for global attributes.
std::optional<std::string> nc_text_attr(int ncid, int varid, const std::string& name);
// First value of a numeric attribute, as double.
std::optional<double> nc_number_attr(int ncid, int varid, const std::string& name);
// Writes a text attribute (NC_CHAR). RuntimeFailure on failure.
void nc_put_text_attr(int ncid, int varid, const std::string& name, const std::string& value);

// A variable's CF decoding of float32 values: values equal to _FillValue or
// missing_value become NaN, then scale_factor and add_offset are applied.
// Read from the attributes once (of(var)), applied to any number of values.
struct NcCfDecoding {
  static NcCfDecoding of(const NcVarInfo& var);
  void apply(float* values, size_t count) const;

  float fill = 0, missing = 0;  // NaN when absent (never equal to anything)
  bool packed = false;
  double scale = 1, offset = 0;
};

// Reads the hyperslab (start, count) as float32 into `out` (product of count
// values, row-major in the variable's dimension order), CF-decoded
// (NcCfDecoding).
void nc_read_f32(const NcVarInfo& var, const std::vector<size_t>& start,
                 const std::vector<size_t>& count, float* out);
// The whole variable as float32 (CF-decoded as nc_read_f32).
std::vector<float> nc_read_all_f32(const NcVarInfo& var);
// The whole variable's raw values as double / int64 (no CF decoding): for
// coordinates such as lat, lon, level and time.
std::vector<double> nc_read_all_f64(const NcVarInfo& var);
std::vector<int64_t> nc_read_all_i64(const NcVarInfo& var);

// ---- CF time -------------------------------------------------------------

// Parsed CF "units" of a time variable: either a duration unit ("hours") for
// timedeltas, or "<unit> since <reference>" for datetimes.
struct CfTimeUnits {
  int64_t unit_ns = 0;      // nanoseconds per unit (3600e9 for hours)
  bool is_datetime = false; // "since" present
  int64_t epoch_s = 0;      // reference time (unix seconds) when is_datetime
};

// nullopt when the text is not a recognised CF time unit.
std::optional<CfTimeUnits> parse_cf_time_units(const std::string& units);
// True for calendars equal to proleptic Gregorian in the modern era
// ("standard", "gregorian", "proleptic_gregorian"; empty = CF default).
bool is_gregorian_calendar(const std::string& calendar);
// Values of a time variable converted to seconds: durations for timedelta
// units, unix seconds for datetimes. Integers are converted exactly; floating
// values are rounded to the nearest second.
std::vector<int64_t> nc_read_time_seconds(const NcVarInfo& var, const CfTimeUnits& units);

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t days_from_civil(int64_t year, int64_t month, int64_t day);
void civil_from_days(int64_t days, int64_t& year, int64_t& month, int64_t& day);

// Parses ISO-8601 like "2019-03-29T12:00", "2019-03-29 12:00:00", "2019-03-29"
// (also "Z"/"UTC"/"+hh:mm" suffixes) into unix seconds. `context` names what
// is being parsed (e.g. "init_time"); InputError on malformed text.
int64_t parse_iso_time(const std::string& text, const std::string& context);
// "2019-03-29T12:00" (seconds appended only when non-zero).
std::string format_iso_time(int64_t unix_seconds);

}  // namespace gencast
