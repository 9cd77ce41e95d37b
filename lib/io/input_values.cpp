#include "io/input_values.h"

#include <cmath>

#include "config/variables.h"
#include "core/parallel.h"
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
  // One parallel pass (a 0.25 deg input is ~170 M values, on the start-up's
  // critical path): NaNs counted in the low 32 bits, infinities above them
  // (a field holds far fewer than 2^32 values).
  const float* values = field.ptr();
  const auto counts = static_cast<uint64_t>(parallel_count(field.numel(), [&](int64_t begin, int64_t end) {
    int64_t nan = 0, inf = 0;
    for (int64_t i = begin; i < end; ++i) {
      nan += std::isnan(values[i]) ? 1 : 0;
      inf += std::isinf(values[i]) ? 1 : 0;
    }
    return nan + (inf << 32);
  }));
  const size_t nan_count = counts & 0xffffffffu, inf_count = counts >> 32;
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
