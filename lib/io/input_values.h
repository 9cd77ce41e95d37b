// Checks shared by every input reader (NetCDF, GRIB) on the values of one
// input field, so that both report bad values in the same words.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/array.h"
#include "core/error.h"

namespace gencast {

// Infinite values anywhere; NaN anywhere but in sea_surface_temperature
// (land); a sea surface temperature that is NaN everywhere. `file` and `name`
// go into the problems; `times_s` are the frames read, for the message.
void check_input_values(const std::string& file, const std::string& name, const ArrayF& field,
                        const std::vector<int64_t>& times_s, ProblemList& problems);

// "2019-03-29T00:00:00, 2019-03-29T12:00:00" (the first few, then a count).
std::string input_times_text(const std::vector<int64_t>& times_s);

}  // namespace gencast
