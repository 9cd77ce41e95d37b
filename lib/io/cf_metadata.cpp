// The CF metadata table for GenCast's variables (see cf_metadata.h).
//
// Notes on the less obvious choices:
// - total_precipitation_12hr is ERA5's accumulated precipitation in metres of
//   liquid water; CF's `precipitation_amount` is a mass per area (kg m-2), so
//   the name whose canonical unit is a length, lwe_thickness_of_precipitation_amount,
//   is the one that matches the data.
// - vertical_velocity is ERA5's omega (pressure tendency following the air
//   parcel, Pa s-1), i.e. CF's lagrangian_tendency_of_air_pressure, not a
//   velocity in m s-1.
// - land_sea_mask is ERA5's land fraction in [0, 1], hence land_area_fraction
//   rather than the 0/1 land_binary_mask.
#include "io/cf_metadata.h"

#include <map>

namespace gencast {
namespace {

const std::map<std::string, CfVariableMetadata>& metadata_table() {
  static const std::map<std::string, CfVariableMetadata> table = {
      // Surface targets.
      {"2m_temperature", {"K", "2 metre temperature", "air_temperature"}},
      {"mean_sea_level_pressure",
       {"Pa", "Mean sea level pressure", "air_pressure_at_mean_sea_level"}},
      {"10m_u_component_of_wind", {"m s-1", "10 metre U wind component", "eastward_wind"}},
      {"10m_v_component_of_wind", {"m s-1", "10 metre V wind component", "northward_wind"}},
      {"total_precipitation_12hr",
       {"m", "Total precipitation over 12 h", "lwe_thickness_of_precipitation_amount"}},
      {"sea_surface_temperature", {"K", "Sea surface temperature", "sea_surface_temperature"}},
      // Atmospheric targets (on pressure levels).
      {"temperature", {"K", "Temperature", "air_temperature"}},
      {"geopotential", {"m2 s-2", "Geopotential", "geopotential"}},
      {"u_component_of_wind", {"m s-1", "U component of wind", "eastward_wind"}},
      {"v_component_of_wind", {"m s-1", "V component of wind", "northward_wind"}},
      {"vertical_velocity",
       {"Pa s-1", "Vertical velocity (pressure tendency)", "lagrangian_tendency_of_air_pressure"}},
      {"specific_humidity", {"kg kg-1", "Specific humidity", "specific_humidity"}},
      // Static inputs.
      {"geopotential_at_surface",
       {"m2 s-2", "Geopotential at the surface", "surface_geopotential"}},
      {"land_sea_mask", {"1", "Land-sea mask (land fraction)", "land_area_fraction"}},
      // Progress forcings: derived features without a CF name.
      {"year_progress_sin", {"1", "Sine of the fraction of the year elapsed", ""}},
      {"year_progress_cos", {"1", "Cosine of the fraction of the year elapsed", ""}},
      {"day_progress_sin", {"1", "Sine of the local fraction of the day elapsed", ""}},
      {"day_progress_cos", {"1", "Cosine of the local fraction of the day elapsed", ""}},
  };
  return table;
}

}  // namespace

std::optional<CfVariableMetadata> cf_metadata_for(const std::string& variable) {
  const auto& table = metadata_table();
  auto it = table.find(variable);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

}  // namespace gencast
