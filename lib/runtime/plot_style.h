// How a quick-look map shows a variable: its palette and colour range.
//
// Palettes: signed quantities (wind components, vertical velocity) get the
// diverging palette with limits symmetric about zero, so that white is calm;
// temperatures the thermal one; humidity and precipitation their own
// sequential ones (precipitation from 0); anything else viridis. The spread
// panel is always the `spread` palette from 0.
#pragma once

#include <string>
#include <vector>

#include "io/colour_map.h"

namespace gencast {

struct VariableStyle {
  ColourMap colours = ColourMap::viridis;
  bool symmetric = false;  // limits -a..a
  bool from_zero = false;  // lower limit 0 (amounts)
};

VariableStyle variable_style(const std::string& variable);

struct ColourRange {
  double vmin = 0, vmax = 1;
};

// A colour range covering the finite values of every field in `fields`,
// widened outwards to round tick values (io/png_map.h nice_ticks), made
// symmetric or started at 0 as `style` says. A constant or empty input still
// gives vmin < vmax.
ColourRange colour_range(const std::vector<const std::vector<float>*>& fields,
                         const VariableStyle& style);

}  // namespace gencast
