#include "config/model_config.h"

namespace gencast {

TaskConfig default_gencast_task() {
  TaskConfig t;
  const std::vector<std::string> surface_no_precip = {
      "2m_temperature", "mean_sea_level_pressure", "10m_v_component_of_wind",
      "10m_u_component_of_wind", "sea_surface_temperature"};
  const std::vector<std::string> atmospheric = {"temperature",         "geopotential",
                                                "u_component_of_wind", "v_component_of_wind",
                                                "vertical_velocity",   "specific_humidity"};
  const std::vector<std::string> forcings = {"year_progress_sin", "year_progress_cos",
                                             "day_progress_sin", "day_progress_cos"};
  t.input_variables = surface_no_precip;
  t.input_variables.insert(t.input_variables.end(), atmospheric.begin(), atmospheric.end());
  t.input_variables.insert(t.input_variables.end(), forcings.begin(), forcings.end());
  t.input_variables.push_back("geopotential_at_surface");
  t.input_variables.push_back("land_sea_mask");
  t.target_variables = {"2m_temperature", "mean_sea_level_pressure", "10m_v_component_of_wind",
                        "10m_u_component_of_wind", "total_precipitation_12hr",
                        "sea_surface_temperature"};
  t.target_variables.insert(t.target_variables.end(), atmospheric.begin(), atmospheric.end());
  t.forcing_variables = forcings;
  t.pressure_levels = {50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000};
  t.input_duration = "24h";
  return t;
}

}  // namespace gencast
