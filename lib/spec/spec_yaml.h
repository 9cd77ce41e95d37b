// RunSpec -> YAML text: the fully resolved run (absolute paths, every field
// explicit), printed by check-config and stored in the forecast file's
// `run_spec` attribute so that a forecast says exactly how it was made.
//
// Invariant: parsing the text again (spec_loader.h) gives an equal RunSpec.
#pragma once

#include <string>

#include "spec/run_spec.h"

namespace gencast {

std::string to_yaml(const RunSpec& spec);

}  // namespace gencast
