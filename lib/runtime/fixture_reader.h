// Reading reference fixtures (a folder laid out like tests/data/gencast_tiny,
// see its README): which file is what, and target-shaped fields stored in
// NetCDF groups with dims ([draw,] [batch,] [time,] [level,] lat, lon).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/stacking.h"
#include "core/array.h"

namespace gencast {

struct FixtureFolder {
  std::string dir;
  std::string checkpoint;             // the .npz holding a checkpoint
  std::string source;                 // source*.nc, the input file of every case
  std::optional<std::string> graph;   // graph npz with the reference's stored edges
  std::vector<std::string> denoise_cases;  // *denoise*.nc
  std::vector<std::string> sampler_cases;  // *sampler*.nc, *rollout*.nc
};

// Finds the pieces of a fixture folder; InputError naming what is missing.
FixtureFolder scan_fixture_folder(const std::string& dir);

// Fields of every target channel from group `group` (a path like "denoised")
// of `file`: out [n_lat*n_lon, channels.size()], lat ascending. `time` and
// `draw` select along those dims when present.
ArrayF read_target_fields(const std::string& file, const std::string& group,
                          const std::vector<ChannelSlot>& channels, const std::vector<int64_t>& levels,
                          int64_t time = 0, int64_t draw = 0);

// A whole variable of a group (no selection), float32, and its dims;
// nullopt when the group or the variable is absent.
struct FixtureVariable {
  std::vector<std::string> dims;
  std::vector<size_t> sizes;
  std::vector<float> data;
};
std::optional<FixtureVariable> read_fixture_variable(const std::string& file,
                                                     const std::string& group,
                                                     const std::string& name);

// The (first, second) input frame indices named in a case's "inputs"/"source"
// attribute ("... frames 0,1 ..."); (0, 1) when absent.
std::pair<int, int> fixture_input_frames(const std::string& file);

}  // namespace gencast
