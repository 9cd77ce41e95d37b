// Colour maps of the quick-look maps: a few perceptually ordered palettes,
// each a list of anchor colours interpolated linearly in RGB.
//
// Which one a variable gets (runtime/plot_style.h): sequential palettes for
// quantities read from low to high (temperature, geopotential, humidity,
// precipitation, ensemble spread), a diverging one centred on zero for signed
// quantities (wind components, vertical velocity).
#pragma once

#include <cstdint>
#include <string>

namespace gencast {

enum class ColourMap {
  viridis,        // sequential, general purpose (dark blue -> yellow)
  thermal,        // sequential for temperatures (blue -> pale yellow -> red)
  humidity,       // sequential (pale yellow -> green -> dark blue)
  precipitation,  // sequential from white (no rain) to dark blue
  spread,         // sequential from pale yellow (no spread) to dark red
  diverging,      // blue (negative) -> white (zero) -> red (positive)
};

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// The colour at position t of the palette; t is clamped to [0, 1].
Rgb colour_at(ColourMap map, double t);

// Cells with no value (NaN, e.g. sea surface temperature over land).
inline constexpr Rgb kNoDataColour{190, 190, 190};

std::string colour_map_name(ColourMap map);

}  // namespace gencast
