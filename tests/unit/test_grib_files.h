// Test helper: writes an InputDataset as ERA5-style GRIB input files, the way
// CDS delivers ERA5 (analyses, north-to-south scanning), with knobs for the
// variants and the faults the reader must handle. IEEE packing by default, so
// values round-trip exactly.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "config/variables.h"
#include "io/grib_handle.h"
#include "io/grib_params.h"
#include "io/netcdf_input.h"

namespace gencast::testing {

struct Era5GribOptions {
  bool split = true;              // pressure levels and single levels in two files
  bool ieee = true;               // 32-bit IEEE packing (exact), else simple 16 bits
  long edition = 2;               // 1 = GRIB1 as CDS delivers ERA5 (2t etc. on "surface")
  bool lon_minus_180 = false;     // longitudes -180..180 (first column at 180 W)
  bool reverse_messages = false;  // messages in reverse order
  std::vector<std::string> skip_variables;
  int64_t skip_level = 0;            // hPa: left out of every pressure-level variable
  std::string other_grid_variable;   // written on a grid twice as coarse
  std::string duplicate_variable;    // its messages written twice
  bool statics_once_at_first_frame = false;  // statics only at the oldest frame
};

namespace detail {

inline long grib_date(int64_t s) {
  using namespace std::chrono;
  const year_month_day ymd{floor<days>(sys_seconds{seconds{s}})};
  return static_cast<long>(static_cast<int>(ymd.year())) * 10000 +
         static_cast<long>(static_cast<unsigned>(ymd.month())) * 100 +
         static_cast<long>(static_cast<unsigned>(ymd.day()));
}

inline long grib_time(int64_t s) {
  const int64_t sod = ((s % 86400) + 86400) % 86400;
  return static_cast<long>(sod / 3600 * 100 + sod % 3600 / 60);
}

// One analysis message of `field` ([lat asc][lon from 0], n_lat x n_lon).
inline std::vector<char> era5_message(const GribParam& p, long level, int64_t time_s,
                                      const float* field, size_t n_lat, size_t n_lon,
                                      const Era5GribOptions& o, int stride = 1) {
  const size_t nj = (n_lat - 1) / static_cast<size_t>(stride) + 1;
  const size_t ni = n_lon / static_cast<size_t>(stride);
  GribHandle h = GribHandle::from_sample("regular_ll_sfc_grib2");
  h.set_long("centre", 98);
  h.set_long("typeOfProcessedData", 0);  // analysis
  h.set_long("dataDate", grib_date(time_s));
  h.set_long("dataTime", grib_time(time_s));
  h.set_long("Ni", static_cast<long>(ni));
  h.set_long("Nj", static_cast<long>(nj));
  h.set_long("jScansPositively", 0);
  const double d = 360.0 / static_cast<double>(ni);
  const double lon0 = o.lon_minus_180 ? -180.0 : 0.0;
  h.set_double("latitudeOfFirstGridPointInDegrees", 90.0);
  h.set_double("latitudeOfLastGridPointInDegrees", -90.0);
  h.set_double("longitudeOfFirstGridPointInDegrees", lon0 < 0 ? lon0 + 360.0 : lon0);
  h.set_double("longitudeOfLastGridPointInDegrees", lon0 + d * static_cast<double>(ni - 1));
  h.set_double("iDirectionIncrementInDegrees", d);
  h.set_double("jDirectionIncrementInDegrees", 180.0 / static_cast<double>(nj - 1));
  h.set_long("productDefinitionTemplateNumber", 0);
  h.set_long("paramId", p.param_id);
  h.set_string("typeOfLevel", p.type_of_level);
  h.set_long("level", p.pressure_levels ? level : p.level);
  h.set_long("step", 0);
  if (o.ieee) {
    h.set_string("packingType", "grid_ieee");
    h.set_long("precision", 1);
  } else {
    h.set_long("bitsPerValue", 16);
  }
  std::vector<double> values(ni * nj);
  const size_t shift = o.lon_minus_180 ? ni / 2 : 0;
  for (size_t r = 0; r < nj; ++r)
    for (size_t c = 0; c < ni; ++c) {
      const size_t i = n_lat - 1 - r * static_cast<size_t>(stride);
      const size_t k = ((c + shift) % ni) * static_cast<size_t>(stride);
      values[r * ni + c] = field[i * n_lon + k];
    }
  h.set_values(values);
  if (o.edition == 1) {
    h.set_long("edition", 1);
    // ERA5 GRIB1 puts 2t/10u/10v/msl on the surface (indicatorOfTypeOfLevel 1).
    if (!p.pressure_levels && p.type_of_level != "surface") h.set_string("typeOfLevel", "surface");
  }
  const void* bytes = nullptr;
  size_t size = 0;
  h.message(&bytes, &size);
  const char* b = static_cast<const char*>(bytes);
  return std::vector<char>(b, b + size);
}

}  // namespace detail

// Writes `ds` (every frame, level and variable it holds) into
// <dir>/era5_pl.grib and <dir>/era5_sfc.grib (or <dir>/era5.grib when not
// split); returns the paths written.
inline std::vector<std::string> write_era5_grib(const InputDataset& ds,
                                                const std::filesystem::path& dir,
                                                const Era5GribOptions& o = {}) {
  struct Msg {
    bool pl;
    std::vector<char> bytes;
  };
  std::vector<Msg> msgs;
  const size_t n_lat = ds.lat.size(), n_lon = ds.lon.size(), n_grid = n_lat * n_lon;
  for (const auto& [name, field] : ds.fields) {
    if (std::find(o.skip_variables.begin(), o.skip_variables.end(), name) !=
        o.skip_variables.end())
      continue;
    const GribParam& p = *find_grib_param(name);
    const int stride = name == o.other_grid_variable ? 2 : 1;
    const int copies = name == o.duplicate_variable ? 2 : 1;
    if (is_static_variable(name)) {
      const int64_t t = o.statics_once_at_first_frame ? ds.times_s.front() : ds.times_s.back();
      msgs.push_back({false, detail::era5_message(p, 0, t, field.ptr(), n_lat, n_lon, o, stride)});
      continue;
    }
    const size_t n_levels = has_levels(name) ? ds.levels.size() : 1;
    for (int copy = 0; copy < copies; ++copy)
      for (size_t t = 0; t < ds.times_s.size(); ++t)
        for (size_t l = 0; l < n_levels; ++l) {
          const long level = has_levels(name) ? static_cast<long>(ds.levels[l]) : 0;
          if (has_levels(name) && level == o.skip_level) continue;
          const float* src = field.ptr() + (t * n_levels + l) * n_grid;
          msgs.push_back({p.pressure_levels, detail::era5_message(p, level, ds.times_s[t], src,
                                                                  n_lat, n_lon, o, stride)});
        }
  }
  if (o.reverse_messages) std::reverse(msgs.begin(), msgs.end());
  std::vector<std::string> paths;
  auto write = [&](const std::string& name, int which) {
    const std::string path = (dir / name).string();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    for (const Msg& m : msgs)
      if (which < 0 || m.pl == (which == 1)) std::fwrite(m.bytes.data(), 1, m.bytes.size(), f);
    std::fclose(f);
    paths.push_back(path);
  };
  if (o.split) {
    write("era5_pl.grib", 1);
    write("era5_sfc.grib", 0);
  } else {
    write("era5.grib", -1);
  }
  return paths;
}

}  // namespace gencast::testing
