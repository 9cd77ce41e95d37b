// CF metadata (units, long_name, standard_name) for the variables GenCast reads
// and writes, so that forecast files are self-describing for CF-aware tools.
//
// Invariants: units are UDUNITS strings in the physical units the model uses
// (ERA5 conventions: K, Pa, m s-1, m2 s-2, kg kg-1, metres of water for
// precipitation); standard_name is empty where CF has no matching name (the
// progress forcings); a standard_name, when present, is one whose canonical
// units are convertible from `units`.
#pragma once

#include <optional>
#include <string>

namespace gencast {

struct CfVariableMetadata {
  std::string units;          // UDUNITS string, "1" for dimensionless
  std::string long_name;      // human-readable name
  std::string standard_name;  // CF standard name, empty if CF has none
};

// Metadata for a GenCast variable name (e.g. "2m_temperature", "temperature");
// std::nullopt for names the table does not know.
std::optional<CfVariableMetadata> cf_metadata_for(const std::string& variable);

}  // namespace gencast
