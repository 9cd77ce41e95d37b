// Coastlines for the quick-look maps, from GSHHG's binned NetCDF files as
// Debian packages them for GMT (package gmt-gshhg-low: crude, low and
// intermediate resolutions in /usr/share/gmt-gshhg/binned_GSHHS_{c,l,i}.nc;
// GSHHG 2.3.7, Wessel & Smith, LGPL-3+). The data is read at run time, never
// compiled in or copied.
//
// The binned layout: the globe is cut into square bins (20 degrees in the
// crude file), numbered row by row from the north-west corner; each bin holds
// the pieces ("segments") of the shoreline polygons that fall inside it, as
// 16-bit offsets from the bin's south-west corner. A segment is drawn as one
// polyline; pieces of one shoreline meet on the bin edges.
//
// Invariants: every returned point lies in its bin (lon 0..360, lat -90..90);
// only shorelines are returned (GSHHG level 1, the land/ocean boundary with
// Antarctica's ice front, and level 2, lake shores), not the islands in lakes,
// ponds or Antarctica's grounding line.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gencast {

struct LonLat {
  double lon = 0;  // degrees east, 0..360
  double lat = 0;  // degrees north
};

struct CoastlinePolyline {
  std::vector<LonLat> points;  // at least 2
  // Lower left longitude of the bin it came from: a polyline never crosses
  // its bin, so this says on which side of a map's seam it belongs.
  double bin_west = 0;
};

// Every shoreline segment of a binned GSHHG file. InputError when the file
// cannot be opened or lacks the binned layout's variables; RuntimeFailure
// when its counts contradict each other.
std::vector<CoastlinePolyline> read_gshhg_coastlines(const std::string& path);

// The coastline file the maps use: $GENCAST_COASTLINE_FILE when set (empty =
// no coastlines), else the crude GSHHG file of Debian's gmt-gshhg-low
// (/usr/share/gmt-gshhg/binned_GSHHS_c.nc) when it exists; nullopt otherwise.
std::optional<std::string> find_coastline_file();

// Credit line for a map drawn with coastlines from `path`.
inline constexpr const char* kCoastlineCredit =
    "coastlines: GSHHG 2.3 (Wessel & Smith, LGPL), Debian gmt-gshhg-low";

}  // namespace gencast
