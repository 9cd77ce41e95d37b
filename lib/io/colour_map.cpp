// Palette anchors (see colour_map.h). The sequential and diverging anchors
// follow the widely used viridis and ColorBrewer (RdYlBu, YlGnBu, Blues,
// YlOrRd, RdBu) schemes, so the maps read like those of other tools.
#include "io/colour_map.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gencast {
namespace {

const std::vector<Rgb>& anchors(ColourMap map) {
  static const std::vector<Rgb> viridis{{68, 1, 84},    {72, 40, 120},  {62, 73, 137},
                                        {49, 104, 142}, {38, 130, 142}, {31, 158, 137},
                                        {53, 183, 121}, {110, 206, 88}, {181, 222, 43},
                                        {253, 231, 37}};
  static const std::vector<Rgb> thermal{{49, 54, 149},   {69, 117, 180},  {116, 173, 209},
                                        {171, 217, 233}, {224, 243, 248}, {255, 255, 191},
                                        {254, 224, 144}, {253, 174, 97},  {244, 109, 67},
                                        {215, 48, 39},   {165, 0, 38}};
  static const std::vector<Rgb> humidity{{255, 255, 217}, {237, 248, 177}, {199, 233, 180},
                                         {127, 205, 187}, {65, 182, 196},  {29, 145, 192},
                                         {34, 94, 168},   {37, 52, 148},   {8, 29, 88}};
  static const std::vector<Rgb> precipitation{{255, 255, 255}, {222, 235, 247}, {198, 219, 239},
                                              {158, 202, 225}, {107, 174, 214}, {66, 146, 198},
                                              {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
  static const std::vector<Rgb> spread{{255, 255, 204}, {255, 237, 160}, {254, 217, 118},
                                       {254, 178, 76},  {253, 141, 60},  {252, 78, 42},
                                       {227, 26, 28},   {189, 0, 38},    {128, 0, 38}};
  static const std::vector<Rgb> diverging{{5, 48, 97},     {33, 102, 172},  {67, 147, 195},
                                          {146, 197, 222}, {209, 229, 240}, {247, 247, 247},
                                          {253, 219, 199}, {244, 165, 130}, {214, 96, 77},
                                          {178, 24, 43},   {103, 0, 31}};
  switch (map) {
    case ColourMap::viridis: return viridis;
    case ColourMap::thermal: return thermal;
    case ColourMap::humidity: return humidity;
    case ColourMap::precipitation: return precipitation;
    case ColourMap::spread: return spread;
    case ColourMap::diverging: return diverging;
  }
  return viridis;
}

uint8_t mix(uint8_t a, uint8_t b, double f) {
  return static_cast<uint8_t>(std::lround(static_cast<double>(a) +
                                          (static_cast<double>(b) - static_cast<double>(a)) * f));
}

}  // namespace

Rgb colour_at(ColourMap map, double t) {
  const auto& a = anchors(map);
  if (!(t > 0)) return a.front();  // also NaN: callers draw NaN cells themselves
  if (t >= 1) return a.back();
  const double x = t * static_cast<double>(a.size() - 1);
  const auto i = static_cast<size_t>(x);
  const double f = x - static_cast<double>(i);
  return {mix(a[i].r, a[i + 1].r, f), mix(a[i].g, a[i + 1].g, f), mix(a[i].b, a[i + 1].b, f)};
}

std::string colour_map_name(ColourMap map) {
  switch (map) {
    case ColourMap::viridis: return "viridis";
    case ColourMap::thermal: return "thermal";
    case ColourMap::humidity: return "humidity";
    case ColourMap::precipitation: return "precipitation";
    case ColourMap::spread: return "spread";
    case ColourMap::diverging: return "diverging";
  }
  return "viridis";
}

}  // namespace gencast
