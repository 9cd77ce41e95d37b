// Reads the shoreline segments of a binned GSHHG file (see gshhg_coastline.h).
#include "io/gshhg_coastline.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "io/netcdf_util.h"

namespace gencast {
namespace {

// The Debian package gmt-gshhg-low installs the crude file here; crude
// (about 14,000 points) is what a map a thousand pixels wide can show.
constexpr const char* kDebianCrudeFile = "/usr/share/gmt-gshhg/binned_GSHHS_c.nc";

// A segment's packed description: point count in the bits above 9, the GSHHG
// level in bits 6-8 (the bits below say where it enters and leaves the bin).
int64_t segment_points(int64_t info) { return info >> 9; }
int64_t segment_level(int64_t info) { return (info >> 6) & 7; }

// Level 1 is the land/ocean shoreline (Antarctica's ice front included),
// 2 a lake shore; 3 (islands in lakes), 4 (ponds) and 6 (Antarctica's
// grounding line, which would draw a second coast inside the ice shelves)
// would only clutter a global map.
bool is_drawn_level(int64_t level) { return level == 1 || level == 2; }

}  // namespace

std::vector<CoastlinePolyline> read_gshhg_coastlines(const std::string& path) {
  NcFile file = NcFile::open_read(path);
  const int ncid = file.id();
  const auto need = [&](const char* name) {
    auto var = nc_find_var(ncid, name);
    if (!var)
      fail_input(path, name, "a binned GSHHG coastline file (as in Debian's gmt-gshhg-low)",
                 "no variable " + std::string(name),
                 "unset GENCAST_COASTLINE_FILE, or point it at binned_GSHHS_c.nc");
    return nc_read_all_i64(*var);
  };
  const int64_t bin_minutes = need("Bin_size_in_minutes").at(0);
  const int64_t bins_lon = need("N_bins_in_360_longitude_range").at(0);
  const std::vector<int64_t> first_segment = need("Id_of_first_segment_in_a_bin");
  const std::vector<int64_t> bin_segments = need("N_segments_in_a_bin");
  const std::vector<int64_t> info = need("Embedded_npts_levels_exit_entry_for_a_segment");
  const std::vector<int64_t> first_point = need("Id_of_first_point_in_a_segment");
  const std::vector<int64_t> dx = need("Relative_longitude_from_SW_corner_of_bin");
  const std::vector<int64_t> dy = need("Relative_latitude_from_SW_corner_of_bin");

  if (bin_minutes <= 0 || bins_lon <= 0 || bins_lon * bin_minutes != 360 * 60 ||
      first_segment.size() != bin_segments.size() || info.size() != first_point.size() ||
      dx.size() != dy.size())
    throw RuntimeFailure(path + ": inconsistent binned GSHHG counts");
  const double bin_deg = static_cast<double>(bin_minutes) / 60.0;
  // Offsets are unsigned 16-bit fractions of the bin, stored as signed shorts.
  const double per_step = bin_deg / 65535.0;

  std::vector<CoastlinePolyline> out;
  for (size_t b = 0; b < first_segment.size(); ++b) {
    const auto row = static_cast<int64_t>(b) / bins_lon, col = static_cast<int64_t>(b) % bins_lon;
    const double west = static_cast<double>(col) * bin_deg;
    const double south = 90.0 - static_cast<double>(row + 1) * bin_deg;
    for (int64_t s = first_segment[b]; s < first_segment[b] + bin_segments[b]; ++s) {
      if (s < 0 || static_cast<size_t>(s) >= info.size())
        throw RuntimeFailure(path + ": segment index out of range in bin " + std::to_string(b));
      const auto si = static_cast<size_t>(s);
      if (!is_drawn_level(segment_level(info[si]))) continue;
      const int64_t n = segment_points(info[si]), p0 = first_point[si];
      if (p0 < 0 || n < 0 || static_cast<size_t>(p0 + n) > dx.size())
        throw RuntimeFailure(path + ": point range out of bounds in segment " + std::to_string(s));
      if (n < 2) continue;
      CoastlinePolyline line;
      line.bin_west = west;
      line.points.reserve(static_cast<size_t>(n));
      for (int64_t p = p0; p < p0 + n; ++p) {
        const auto pi = static_cast<size_t>(p);
        line.points.push_back({west + static_cast<double>(dx[pi] & 0xffff) * per_step,
                               south + static_cast<double>(dy[pi] & 0xffff) * per_step});
      }
      out.push_back(std::move(line));
    }
  }
  return out;
}

std::optional<std::string> find_coastline_file() {
  if (const char* env = std::getenv("GENCAST_COASTLINE_FILE")) {
    if (!*env) return std::nullopt;
    return std::string(env);
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(kDebianCrudeFile, ec)) return std::string(kDebianCrudeFile);
  return std::nullopt;
}

}  // namespace gencast
