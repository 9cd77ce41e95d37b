// Quick-look PNG maps drawn with cairo: one figure with a heading and one or
// more global map panels stacked top to bottom, each with its colour bar
// (ticks and units), optional coastlines, and a footnote.
//
// Invariants:
//  - The PNG appears complete or not at all (written to "<path>.partial-<pid>",
//    renamed at the end).
//  - Maps are plate carrée from 180 W (left) to 180 E, north up; every grid
//    value is one cell centred on its grid point, drawn without smoothing, so
//    a coarse grid shows as blocks rather than invented detail. NaN cells are
//    kNoDataColour.
//  - The layout depends only on the number of panels (map_figure_layout), so
//    tests can look at a given part of the picture.
#pragma once

#include <string>
#include <vector>

#include "io/colour_map.h"
#include "io/gshhg_coastline.h"

namespace gencast {

struct MapPanel {
  std::string title;          // above the map, e.g. "Ensemble mean"
  std::vector<float> values;  // [lat.size() * lon.size()], value(i, j) = values[i * n_lon + j]
  ColourMap colours = ColourMap::viridis;
  double vmin = 0, vmax = 1;  // the colour bar's ends (vmin < vmax); values outside are clamped
  std::string units;          // written above the colour bar
};

struct MapFigure {
  std::vector<double> lat;  // degrees north, equally spaced (either order), within -90..90
  std::vector<double> lon;  // degrees east, equally spaced, ascending, covering the globe
  std::vector<std::string> heading;  // at most 2 lines at the top; the first is bold
                                     // (text too wide for the picture ends in "...")
  std::vector<MapPanel> panels;      // at least one
  std::vector<CoastlinePolyline> coastlines;  // drawn over every map (may be empty)
  std::vector<std::string> footnote;          // small print at the bottom, at most 2 lines
};

struct PixelBox {
  int x = 0, y = 0, w = 0, h = 0;
};

struct MapPanelLayout {
  PixelBox title;       // panel title row
  PixelBox map;         // the map itself
  PixelBox colour_bar;  // the colour bar
  PixelBox legend;      // tick labels and units, right of the colour bar
};

struct MapFigureLayout {
  int width = 0, height = 0;
  PixelBox heading, footnote;
  std::vector<MapPanelLayout> panels;
};

// Where everything goes for a figure of `panels` maps.
MapFigureLayout map_figure_layout(size_t panels);

// Round tick values inside [vmin, vmax], ascending: the largest step of 1, 2
// or 5 times a power of ten that gives at least target/2 + 1 of them (so
// between that and about 2.5 x target). Empty when vmin >= vmax or not finite.
std::vector<double> nice_ticks(double vmin, double vmax, int target = 6);

// Draws the figure and writes it to `path` as PNG. InputError when the grid
// is not regular and global or a panel's values do not match it;
// RuntimeFailure when the file cannot be written.
void write_map_png(const MapFigure& figure, const std::string& path);

}  // namespace gencast
