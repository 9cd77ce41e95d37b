// How each GenCast variable is named in GRIB: the ECMWF parameter (paramId /
// shortName, as ERA5 and ai-models files carry them), the level type it is
// written on, the level types accepted when reading ERA5 GRIB, and whether it
// is a 12 h accumulation. The one table shared by the GRIB sink and reader.
//
// Units are ERA5's, which are also GenCast's: K, Pa, m s-1, m2 s-2, kg kg-1,
// Pa s-1, total precipitation in metres (paramId 228, an ECMWF-local GRIB2
// parameter, hence centre ecmf on output), land-sea mask as a fraction.
#pragma once

#include <string>
#include <vector>

namespace gencast {

struct GribParam {
  std::string variable;   // GenCast / WeatherBench name
  long param_id = 0;      // ECMWF paramId
  std::string short_name; // ecCodes shortName (for messages and docs)
  bool pressure_levels = false;  // on isobaricInhPa levels (level = hPa)
  // Single-level variables: the typeOfLevel and level written in GRIB2.
  std::string type_of_level;
  long level = 0;
  // typeOfLevel values accepted on input. ERA5 GRIB1 from CDS/MARS puts
  // 2t/10u/10v/msl on "surface"; GRIB2 uses heightAboveGround / meanSea.
  std::vector<std::string> input_level_types;
  bool accumulation_12h = false;  // total_precipitation_12hr: the 12 h ending at the step
};

// The entry for `variable`, or nullptr when GenCast has no GRIB mapping for it.
const GribParam* find_grib_param(const std::string& variable);
// Every known variable, for messages.
const std::vector<GribParam>& grib_params();

}  // namespace gencast
