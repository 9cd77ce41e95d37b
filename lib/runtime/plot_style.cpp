// Palette and colour range choice of the quick-look maps (see plot_style.h).
#include "runtime/plot_style.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "io/png_map.h"

namespace gencast {
namespace {

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

VariableStyle variable_style(const std::string& v) {
  if (contains(v, "u_component") || contains(v, "v_component") || contains(v, "vertical_velocity"))
    return {ColourMap::diverging, true, false};
  if (contains(v, "precipitation")) return {ColourMap::precipitation, false, true};
  if (contains(v, "humidity")) return {ColourMap::humidity, false, false};
  if (contains(v, "temperature")) return {ColourMap::thermal, false, false};
  return {ColourMap::viridis, false, false};
}

ColourRange colour_range(const std::vector<const std::vector<float>*>& fields,
                         const VariableStyle& style) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* f : fields)
    for (float v : *f)
      if (std::isfinite(v)) {
        lo = std::min(lo, static_cast<double>(v));
        hi = std::max(hi, static_cast<double>(v));
      }
  if (!(lo <= hi)) lo = hi = 0;  // nothing finite
  if (style.symmetric) {
    const double a = std::max(std::fabs(lo), std::fabs(hi));
    lo = -a;
    hi = a;
  }
  if (style.from_zero) lo = std::min(lo, 0.0);
  if (!(lo < hi)) {
    // A constant field (e.g. the spread of one member): a unit-sized range
    // around it, on the field's own scale.
    const double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.01;
    lo = style.from_zero && lo == 0 ? 0 : lo - pad;
    hi = hi + pad;
  }
  // Round outwards to the tick step, so the bar ends on labelled values.
  const std::vector<double> ticks = nice_ticks(lo, hi);
  if (ticks.size() >= 2) {
    const double step = ticks[1] - ticks[0];
    lo = std::floor(lo / step + 1e-9) * step;
    hi = std::ceil(hi / step - 1e-9) * step;
    if (style.symmetric) {
      const double a = std::max(-lo, hi);
      lo = -a;
      hi = a;
    }
  }
  return {lo, hi};
}

}  // namespace gencast
