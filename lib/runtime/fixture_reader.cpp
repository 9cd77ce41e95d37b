#include "runtime/fixture_reader.h"

#include <netcdf.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "core/error.h"
#include "io/netcdf_util.h"
#include "io/npz.h"

namespace fs = std::filesystem;

namespace gencast {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int open_group(const NcFile& file, const std::string& group) {
  if (group.empty()) return file.id();
  auto id = nc_find_group(file.id(), group);
  if (!id) fail_input(file.path(), group, "a group '" + group + "'", "none");
  return *id;
}

}  // namespace

FixtureFolder scan_fixture_folder(const std::string& dir) {
  if (!fs::is_directory(dir)) fail_input(dir, "", "a fixture folder", "no such folder");
  FixtureFolder f;
  f.dir = dir;
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const fs::path& p : entries) {
    const std::string name = p.filename().string();
    if (ends_with(name, ".npz")) {
      NpzReader reader(p.string());
      if (reader.contains("description") && f.checkpoint.empty()) f.checkpoint = p.string();
      else if (reader.contains("mesh2grid_senders") && !f.graph) f.graph = p.string();
    } else if (ends_with(name, ".nc")) {
      if (name.rfind("source", 0) == 0 && f.source.empty()) f.source = p.string();
      else if (name.find("denoise") != std::string::npos) f.denoise_cases.push_back(p.string());
      else if (name.find("sampler") != std::string::npos || name.find("rollout") != std::string::npos)
        f.sampler_cases.push_back(p.string());
    }
  }
  ProblemList problems;
  if (f.checkpoint.empty())
    problems.add(dir, "checkpoint", "an .npz checkpoint (with a 'description' key)", "none");
  if (f.source.empty()) problems.add(dir, "source", "an input file source*.nc", "none");
  for (const char* stats : {"mean_by_level.nc", "stddev_by_level.nc", "diffs_stddev_by_level.nc",
                            "min_by_level.nc"})
    if (!fs::exists(fs::path(dir) / stats)) problems.add(dir, stats, "this stats file", "missing");
  if (f.denoise_cases.empty() && f.sampler_cases.empty())
    problems.add(dir, "cases", "at least one *denoise*.nc, *sampler*.nc or *rollout*.nc case",
                 "none");
  problems.throw_if_any();
  return f;
}

std::optional<FixtureVariable> read_fixture_variable(const std::string& file,
                                                     const std::string& group,
                                                     const std::string& name) {
  NcFile nc = NcFile::open_read(file);
  int gid = nc.id();
  if (!group.empty()) {
    auto id = nc_find_group(nc.id(), group);
    if (!id) return std::nullopt;
    gid = *id;
  }
  auto var = nc_find_var(gid, name);
  if (!var) return std::nullopt;
  FixtureVariable v;
  v.dims = var->dims;
  v.sizes = var->sizes;
  v.data = nc_read_all_f32(*var);
  return v;
}

ArrayF read_target_fields(const std::string& file, const std::string& group,
                          const std::vector<ChannelSlot>& channels,
                          const std::vector<int64_t>& levels, int64_t time, int64_t draw) {
  NcFile nc = NcFile::open_read(file);
  const int gid = open_group(nc, group);
  const std::string where = group.empty() ? file : file + " [" + group + "]";
  // Level values of the group must match the task's (index -> value).
  std::vector<int64_t> group_levels;
  if (auto lv = nc_find_var(gid, "level")) group_levels = nc_read_all_i64(*lv);
  if (auto lat = nc_find_var(gid, "lat")) {
    const auto lat_values = nc_read_all_f64(*lat);
    if (lat_values.size() > 1 && lat_values.front() > lat_values.back())
      fail_input(where, "lat", "ascending latitude", "descending");
  }

  int64_t n_grid = -1;
  ArrayF out;
  std::string cached_name;
  FixtureVariable cached;
  for (size_t c = 0; c < channels.size(); ++c) {
    const ChannelSlot& slot = channels[c];
    if (slot.variable != cached_name) {
      auto var = nc_find_var(gid, slot.variable);
      if (!var) fail_input(where, slot.variable, "this target variable", "missing");
      cached = FixtureVariable{var->dims, var->sizes, nc_read_all_f32(*var)};
      cached_name = slot.variable;
    }
    const auto& dims = cached.dims;
    const auto ilat = std::find(dims.begin(), dims.end(), "lat") - dims.begin();
    const auto ilon = std::find(dims.begin(), dims.end(), "lon") - dims.begin();
    if (ilat != static_cast<long>(dims.size()) - 2 || ilon != static_cast<long>(dims.size()) - 1)
      fail_input(where, slot.variable, "dims ending in (lat, lon)", "other dims");
    const int64_t g = static_cast<int64_t>(cached.sizes[dims.size() - 2] * cached.sizes[dims.size() - 1]);
    if (n_grid < 0) {
      n_grid = g;
      out = ArrayF({n_grid, static_cast<int64_t>(channels.size())});
    } else if (g != n_grid) {
      fail_input(where, slot.variable, std::to_string(n_grid) + " grid points", std::to_string(g));
    }
    // Offset of the selected (draw, batch 0, time, level) field.
    size_t offset = 0;
    for (size_t d = 0; d + 2 < dims.size(); ++d) {
      size_t index = 0;
      if (dims[d] == "time") index = static_cast<size_t>(time);
      else if (dims[d] == "draw") index = static_cast<size_t>(draw);
      else if (dims[d] == "level") {
        if (slot.level < 0) fail_input(where, slot.variable, "no level dim", "a level dim");
        const int64_t want = levels.at(static_cast<size_t>(slot.level));
        auto it = std::find(group_levels.begin(), group_levels.end(), want);
        if (it == group_levels.end())
          fail_input(where, "level", "level " + std::to_string(want), "absent");
        index = static_cast<size_t>(it - group_levels.begin());
      }
      if (index >= cached.sizes[d])
        fail_input(where, slot.variable + " " + dims[d], "index < " + std::to_string(cached.sizes[d]),
                   std::to_string(index));
      offset = offset * cached.sizes[d] + index;
    }
    offset *= static_cast<size_t>(g);
    for (int64_t i = 0; i < g; ++i)
      out.data[static_cast<size_t>(i) * channels.size() + c] = cached.data[offset + static_cast<size_t>(i)];
  }
  return out;
}

std::pair<int, int> fixture_input_frames(const std::string& file) {
  NcFile nc = NcFile::open_read(file);
  static const std::regex frames(R"(frames\s+(\d+)\s*,\s*(\d+))");
  for (const char* attr : {"inputs", "source"}) {
    if (auto text = nc_text_attr(nc.id(), NC_GLOBAL, attr)) {
      std::smatch m;
      if (std::regex_search(*text, m, frames)) return {std::stoi(m[1].str()), std::stoi(m[2].str())};
    }
  }
  return {0, 1};
}

}  // namespace gencast
