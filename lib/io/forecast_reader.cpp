#include "io/forecast_reader.h"

#include <netcdf.h>

#include <algorithm>

#include "core/error.h"
#include "core/text.h"

namespace gencast {
namespace {

struct LayoutDims {
  std::string lead, level, lat, lon;
  std::string init_var;  // the variable holding the init time
};

LayoutDims layout_dims(OutputLayout layout) {
  if (layout == OutputLayout::wb2) return {"prediction_timedelta", "level", "latitude", "longitude", "time"};
  return {"time", "level", "lat", "lon", "forecast_reference_time"};
}

[[noreturn]] void not_ours(const std::string& path, const std::string& field,
                           const std::string& found) {
  throw InputError(Problem{path, field, "a forecast file written by gencast-run", found, ""});
}

NcVarInfo need_var(int ncid, const std::string& path, const std::string& name) {
  auto v = nc_find_var(ncid, name);
  if (!v) not_ours(path, name, "no variable '" + name + "'");
  return *v;
}

std::vector<int64_t> time_values(const NcVarInfo& var, const std::string& path) {
  const auto units_text = nc_text_attr(var.ncid, var.varid, "units");
  const auto units = units_text ? parse_cf_time_units(*units_text) : std::nullopt;
  if (!units) {
    std::string found = "'";
    found += units_text.value_or("");
    found += "'";
    not_ours(path, var.name + ".units", found);
  }
  return nc_read_time_seconds(var, *units);
}

}  // namespace

std::string ForecastFileInfo::attribute(const std::string& name) const {
  auto it = attributes.find(name);
  return it == attributes.end() ? std::string() : it->second;
}

ForecastReader::ForecastReader(const std::string& path) : file_(NcFile::open_read(path)) {
  const int ncid = file_.id();
  ForecastOutputSpec& s = info_.spec;
  s.path = path;
  int n_atts = 0;
  nc_check(nc_inq_natts(ncid, &n_atts), path + ": reading global attributes");
  for (int i = 0; i < n_atts; ++i) {
    char name[NC_MAX_NAME + 1] = {};
    nc_check(nc_inq_attname(ncid, NC_GLOBAL, i, name), path + ": reading global attributes");
    if (auto text = nc_text_attr(ncid, NC_GLOBAL, name)) info_.attributes[name] = *text;
  }
  const std::string layout_name = info_.attribute("gencast_output_layout");
  const auto layout = parse_output_layout(layout_name);
  if (!layout)
    not_ours(path, "gencast_output_layout",
             layout_name.empty() ? "no such global attribute" : "'" + layout_name + "'");
  s.layout = *layout;
  const LayoutDims dims = layout_dims(s.layout);

  // The member coordinate is the one variable marked as realizations.
  for (const auto& name : nc_var_names(ncid)) {
    const auto v = nc_find_var(ncid, name);
    if (v && v->dims.size() == 1 && v->dims[0] == name &&
        nc_text_attr(ncid, v->varid, "standard_name").value_or("") == "realization")
      s.ensemble_dim = name;
  }
  if (s.ensemble_dim.empty()) not_ours(path, "member coordinate", "no variable with standard_name realization");
  s.member_ids = nc_read_all_i64(need_var(ncid, path, s.ensemble_dim));
  for (int64_t seconds : time_values(need_var(ncid, path, dims.lead), path))
    s.lead_hours.push_back(seconds / 3600);
  const std::vector<int64_t> init = time_values(need_var(ncid, path, dims.init_var), path);
  if (init.size() != 1) not_ours(path, dims.init_var, std::to_string(init.size()) + " values");
  s.init_time_s = init[0];
  for (double v : nc_read_all_f64(need_var(ncid, path, dims.lat))) s.lat.push_back(static_cast<float>(v));
  for (double v : nc_read_all_f64(need_var(ncid, path, dims.lon))) s.lon.push_back(static_cast<float>(v));
  if (auto level = nc_find_var(ncid, dims.level)) s.levels = nc_read_all_i64(*level);

  // Data variables: float fields whose last two dimensions are the grid.
  for (const auto& name : nc_var_names(ncid)) {
    const auto v = nc_find_var(ncid, name);
    if (!v || v->type != NC_FLOAT || v->dims.size() < 4) continue;
    const size_t r = v->dims.size();
    if (v->dims[r - 2] != dims.lat || v->dims[r - 1] != dims.lon) continue;
    s.variables.push_back(name);
    if (v->dim_index(dims.level) >= 0) {
      for (int l = 0; l < static_cast<int>(s.levels.size()); ++l) {
        s.channels.push_back({name, 0, l});
        channel_vars_.push_back(*v);
      }
    } else {
      s.channels.push_back({name, 0, -1});
      channel_vars_.push_back(*v);
    }
  }
  // The zlib level the data was written with (0 = none) and its BitRound,
  // so that a merge keeps them by default.
  s.compression = 0;
  if (!channel_vars_.empty()) {
    int shuffle = 0, deflate = 0, level = 0;
    const NcVarInfo& first = channel_vars_.front();
    nc_check(nc_inq_var_deflate(first.ncid, first.varid, &shuffle, &deflate, &level),
             path + ": reading the compression of " + first.name);
    if (deflate) s.compression = level;
    // BitRound (output.keep_bits) as netCDF records it: a merge keeps it.
    int mode = 0, bits = 0;
    nc_check(nc_inq_var_quantize(first.ncid, first.varid, &mode, &bits),
             path + ": reading the quantization of " + first.name);
    s.keep_bits = mode == NC_QUANTIZE_BITROUND ? bits : 0;
  }
  if (s.channels.empty()) not_ours(path, "variables", "no forecast variables on the (" + dims.lat + ", " + dims.lon + ") grid");
  if (s.lat.empty() || s.lon.empty() || s.member_ids.empty() || s.lead_hours.empty())
    not_ours(path, "dimensions", "an empty member, lead time or grid dimension");
  s.model_description = info_.attribute("model_description");
  s.model_license = info_.attribute("model_license");
  s.run_spec_yaml = info_.attribute("run_spec");
  s.run_fingerprint = info_.attribute(kFingerprintAttribute);
  s.run_identity = info_.attribute(kIdentityAttribute);
}

void ForecastReader::read_field(int member_index, int lead_index, int channel, float* field) const {
  const ForecastOutputSpec& s = info_.spec;
  if (member_index < 0 || member_index >= static_cast<int>(s.member_ids.size()) || lead_index < 0 ||
      lead_index >= static_cast<int>(s.lead_hours.size()) || channel < 0 ||
      channel >= static_cast<int>(s.channels.size()))
    throw std::out_of_range("ForecastReader::read_field: index outside the file");
  const LayoutDims dims = layout_dims(s.layout);
  const NcVarInfo& var = channel_vars_[static_cast<size_t>(channel)];
  std::vector<size_t> start, count;
  for (size_t d = 0; d < var.dims.size(); ++d) {
    const std::string& dim = var.dims[d];
    size_t at = 0, n = 1;
    if (dim == s.ensemble_dim) at = static_cast<size_t>(member_index);
    else if (dim == dims.lead) at = static_cast<size_t>(lead_index);
    else if (dim == dims.level) at = static_cast<size_t>(s.channels[static_cast<size_t>(channel)].level);
    else if (dim == dims.lat || dim == dims.lon) n = var.sizes[d];
    start.push_back(at);
    count.push_back(n);
  }
  nc_read_f32(var, start, count, field);
}

void ForecastReader::read_step(int member_index, int lead_index, float* fields) const {
  const size_t n_grid = info_.spec.lat.size() * info_.spec.lon.size();
  const size_t n_channels = info_.spec.channels.size();
  std::vector<float> field(n_grid);
  for (size_t c = 0; c < n_channels; ++c) {
    read_field(member_index, lead_index, static_cast<int>(c), field.data());
    for (size_t g = 0; g < n_grid; ++g) fields[g * n_channels + c] = field[g];
  }
}

}  // namespace gencast
