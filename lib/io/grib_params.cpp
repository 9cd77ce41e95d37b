#include "io/grib_params.h"

#include <algorithm>

namespace gencast {

const std::vector<GribParam>& grib_params() {
  static const std::vector<GribParam> table = {
      // Single-level targets (and inputs).
      {"2m_temperature", 167, "2t", false, "heightAboveGround", 2, {"heightAboveGround", "surface"}, false},
      {"10m_u_component_of_wind", 165, "10u", false, "heightAboveGround", 10, {"heightAboveGround", "surface"}, false},
      {"10m_v_component_of_wind", 166, "10v", false, "heightAboveGround", 10, {"heightAboveGround", "surface"}, false},
      {"mean_sea_level_pressure", 151, "msl", false, "meanSea", 0, {"meanSea", "surface"}, false},
      {"sea_surface_temperature", 34, "sst", false, "surface", 0, {"surface"}, false},
      {"total_precipitation_12hr", 228, "tp", false, "surface", 0, {"surface"}, true},
      // Static inputs: surface geopotential is z on the surface (ERA5's convention).
      {"geopotential_at_surface", 129, "z", false, "surface", 0, {"surface"}, false},
      {"land_sea_mask", 172, "lsm", false, "surface", 0, {"surface"}, false},
      // Pressure-level variables.
      {"temperature", 130, "t", true, "isobaricInhPa", 0, {"isobaricInhPa"}, false},
      {"geopotential", 129, "z", true, "isobaricInhPa", 0, {"isobaricInhPa"}, false},
      {"u_component_of_wind", 131, "u", true, "isobaricInhPa", 0, {"isobaricInhPa"}, false},
      {"v_component_of_wind", 132, "v", true, "isobaricInhPa", 0, {"isobaricInhPa"}, false},
      {"vertical_velocity", 135, "w", true, "isobaricInhPa", 0, {"isobaricInhPa"}, false},
      {"specific_humidity", 133, "q", true, "isobaricInhPa", 0, {"isobaricInhPa"}, false},
  };
  return table;
}

const GribParam* find_grib_param(const std::string& variable) {
  const auto& t = grib_params();
  const auto it = std::find_if(t.begin(), t.end(),
                               [&](const GribParam& p) { return p.variable == variable; });
  return it == t.end() ? nullptr : &*it;
}

}  // namespace gencast
