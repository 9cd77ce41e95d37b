#include "io/input_values.h"

#include <cmath>

#include "config/variables.h"
#include "io/netcdf_util.h"  // format_iso_time

namespace gencast {
namespace {

constexpr size_t kMaxTimesListed = 8;

}  // namespace

std::string input_times_text(const std::vector<int64_t>& times) {
  std::string out;
  for (size_t i = 0; i < times.size() && i < kMaxTimesListed; ++i) {
    if (i) out += ", ";
    out += format_iso_time(times[i]);
  }
  if (times.size() > kMaxTimesListed)
    out += ", ... (" + std::to_string(times.size()) + " times, last " +
           format_iso_time(times.back()) + ")";
  return out.empty() ? "no times" : out;
}

void check_input_values(const std::string& file, const std::string& name, const ArrayF& field,
                        const std::vector<int64_t>& times_s, ProblemList& problems) {
  size_t nan_count = 0, inf_count = 0;
  for (float v : field.data) {
    if (std::isnan(v)) ++nan_count;
    else if (std::isinf(v)) ++inf_count;
  }
  if (inf_count > 0)
    problems.add(file, name, "finite values", std::to_string(inf_count) +
                 " infinite value(s) in the input frames");
  if (nan_count > 0 && name != kNanFilledVariable)
    problems.add(file, name,
                 "no missing values (only sea_surface_temperature may be NaN, over land)",
                 std::to_string(nan_count) + " NaN value(s) in the input frames (" +
                     input_times_text(times_s) + ")");
  if (nan_count == field.data.size() && name == kNanFilledVariable)
    problems.add(file, name, "sea values (NaN only over land)", "NaN everywhere");
}

}  // namespace gencast
