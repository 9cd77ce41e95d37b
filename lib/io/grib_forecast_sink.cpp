// GRIB2 forecast sink (see grib_forecast_sink.h for the message conventions).
//
// Why some choices:
// - One prepared ecCodes handle per written channel: the grid, date, param,
//   level and packing are set once; a step only changes the member, the
//   step and the values, so ecCodes re-derives as little as possible.
// - The fields arrive grid-node-major with latitude ascending; GRIB (like
//   ERA5) scans north to south, so rows are reversed while gathering.
// - ecCodes is not thread-safe in Debian's build: packing runs on the
//   sink's own thread (runtime's AsyncForecastWriter) one field at a time.
#include "io/grib_forecast_sink.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>

#include "core/parallel.h"
#include "core/text.h"
#include "io/grib_params.h"
#include "io/netcdf_forecast_writer.h"  // check_output_path

namespace gencast {
namespace {

namespace fs = std::filesystem;

// total_precipitation_12hr accumulates over the 12 h model step.
constexpr long kAccumulationHours = 12;

std::string member_text(const std::vector<int64_t>& ids) {
  std::vector<std::string> parts;
  for (const int64_t id : ids) parts.push_back(std::to_string(id));
  return join(parts, ", ");
}

void validate_structure(const ForecastOutputSpec& spec) {
  auto bad = [](const std::string& msg) {
    throw std::invalid_argument("GribForecastSink: " + msg);
  };
  if (spec.lat.size() < 2 || spec.lon.size() < 2) bad("fewer than 2 latitudes or longitudes");
  for (size_t i = 1; i < spec.lat.size(); ++i)
    if (!(spec.lat[i] > spec.lat[i - 1])) bad("lat must be strictly ascending");
  for (size_t i = 1; i < spec.lon.size(); ++i)
    if (!(spec.lon[i] > spec.lon[i - 1])) bad("lon must be strictly ascending");
  if (spec.lead_hours.empty()) bad("no lead times");
  for (size_t i = 1; i < spec.lead_hours.size(); ++i)
    if (spec.lead_hours[i] <= spec.lead_hours[i - 1]) bad("lead_hours must be strictly increasing");
  if (spec.member_ids.empty()) bad("no members");
  if (std::set<int64_t>(spec.member_ids.begin(), spec.member_ids.end()).size() !=
      spec.member_ids.size())
    bad("member_ids must be unique");
  if (spec.channels.empty()) bad("no channels");
  for (const auto& ch : spec.channels)
    if (ch.level < -1 || ch.level >= static_cast<int>(spec.levels.size()))
      bad("channel " + ch.variable + " has level index " + std::to_string(ch.level) +
          " outside the " + std::to_string(spec.levels.size()) + " levels");
}

bool selected(const ForecastOutputSpec& spec, const std::string& name) {
  return spec.variables.empty() ||
         std::find(spec.variables.begin(), spec.variables.end(), name) != spec.variables.end();
}

// The message of one channel with everything but member, step and values set.
GribHandle prepare_message(const ForecastOutputSpec& spec, const GribParam& param, int level_index) {
  GribHandle h = GribHandle::from_sample("regular_ll_sfc_grib2");
  // Section 1: ECMWF's centre, so that tp (paramId 228) and the other ECMWF
  // parameters decode by their usual shortNames.
  h.set_long("centre", 98);
  h.set_long("significanceOfReferenceTime", 1);  // start of forecast
  using namespace std::chrono;
  const sys_seconds init{seconds{spec.init_time_s}};
  const auto day = floor<days>(init);
  const year_month_day ymd{day};
  const hh_mm_ss hms{init - day};
  h.set_long("dataDate", static_cast<long>(static_cast<int>(ymd.year())) * 10000 +
                             static_cast<long>(static_cast<unsigned>(ymd.month())) * 100 +
                             static_cast<long>(static_cast<unsigned>(ymd.day())));
  h.set_long("dataTime", static_cast<long>(hms.hours().count() * 100 + hms.minutes().count()));
  h.set_long("typeOfProcessedData", 4);  // perturbed forecast: dataType pf

  // Section 3: regular lat/lon, north to south, west to east.
  const auto n_lat = static_cast<long>(spec.lat.size());
  const auto n_lon = static_cast<long>(spec.lon.size());
  h.set_long("Ni", n_lon);
  h.set_long("Nj", n_lat);
  h.set_long("iScansNegatively", 0);
  h.set_long("jScansPositively", 0);
  h.set_long("jPointsAreConsecutive", 0);
  h.set_double("latitudeOfFirstGridPointInDegrees", spec.lat.back());
  h.set_double("latitudeOfLastGridPointInDegrees", spec.lat.front());
  h.set_double("longitudeOfFirstGridPointInDegrees", spec.lon.front());
  h.set_double("longitudeOfLastGridPointInDegrees", spec.lon.back());
  h.set_double("jDirectionIncrementInDegrees",
               (static_cast<double>(spec.lat.back()) - spec.lat.front()) / static_cast<double>(n_lat - 1));
  h.set_double("iDirectionIncrementInDegrees",
               (static_cast<double>(spec.lon.back()) - spec.lon.front()) / static_cast<double>(n_lon - 1));

  // Section 4: ensemble member of a forecast, instantaneous or accumulated.
  h.set_long("productDefinitionTemplateNumber", param.accumulation_12h ? 11 : 1);
  h.set_long("paramId", param.param_id);
  h.set_string("typeOfLevel", param.type_of_level);
  h.set_long("level", param.pressure_levels
                          ? static_cast<long>(spec.levels[static_cast<size_t>(level_index)])
                          : param.level);
  h.set_long("typeOfGeneratingProcess", 4);  // ensemble forecast
  h.set_long("numberOfForecastsInEnsemble", static_cast<long>(spec.member_ids.size()));

  // Section 5: packing.
  if (spec.grib_packing == GribPacking::ieee) {
    h.set_string("packingType", "grid_ieee");
    h.set_long("precision", 1);  // 32-bit floats
  } else {
    h.set_string("packingType", "grid_simple");
    h.set_long("bitsPerValue", kGribSimpleBitsPerValue);
  }
  return h;
}

}  // namespace

void check_grib_output_options(const ForecastOutputSpec& spec,
                               const std::vector<std::string>& target_variables,
                               ProblemList& problems) {
  check_output_path(spec.path, problems);
  check_output_variables(spec, target_variables, problems);
  for (const auto& name : target_variables) {
    if (selected(spec, name) && !find_grib_param(name))
      problems.add(spec.spec_file, "output.format",
                   "target variables that have a GRIB parameter", "'" + name + "', which has none",
                   "write NetCDF (output.format: netcdf), or leave it out of output.variables");
  }
  if (spec.keep_bits > 0)  // BitRound is a NetCDF (netCDF-C quantize) feature
    problems.add(spec.spec_file, "output.keep_bits", "no keep_bits with GRIB output",
                 std::to_string(spec.keep_bits),
                 "GRIB packs values itself: choose output.grib_packing (simple or ieee)");
  std::vector<int64_t> too_large;
  for (const int64_t id : spec.member_ids)
    if (id > kMaxGribMemberId) too_large.push_back(id);
  if (!too_large.empty())
    problems.add(spec.spec_file, "forecast.member_ids",
                 "member ids from 0 to " + std::to_string(kMaxGribMemberId) +
                     " for GRIB output (perturbationNumber is one octet)",
                 member_text(too_large), "write NetCDF for larger member ids");
  if (static_cast<int64_t>(spec.member_ids.size()) > kMaxGribMemberId)
    problems.add(spec.spec_file, "forecast.members",
                 "at most " + std::to_string(kMaxGribMemberId) +
                     " members in one GRIB file (numberOfForecastsInEnsemble is one octet)",
                 std::to_string(spec.member_ids.size()));
}

GribForecastSink::GribForecastSink(ForecastOutputSpec spec) : spec_(std::move(spec)) {
  std::vector<std::string> targets;
  for (const auto& ch : spec_.channels)
    if (std::find(targets.begin(), targets.end(), ch.variable) == targets.end())
      targets.push_back(ch.variable);
  ProblemList problems;
  check_grib_output_options(spec_, targets, problems);
  problems.throw_if_any();
  validate_structure(spec_);

  for (int c = 0; c < static_cast<int>(spec_.channels.size()); ++c) {
    const ChannelSlot& ch = spec_.channels[static_cast<size_t>(c)];
    if (!selected(spec_, ch.variable)) continue;
    const GribParam& param = *find_grib_param(ch.variable);
    if (param.pressure_levels != (ch.level >= 0))
      throw std::invalid_argument("GribForecastSink: channel " + ch.variable +
                                  (ch.level >= 0 ? " has a level" : " has no level"));
    messages_.push_back({c, param.accumulation_12h, prepare_message(spec_, param, ch.level)});
  }
  written_.assign(spec_.member_ids.size() * spec_.lead_hours.size(), 0);
  values_.resize(spec_.lat.size() * spec_.lon.size());
  temp_path_ = spec_.path + ".partial-" + std::to_string(::getpid());
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (!file_) {
    const int err = errno;
    throw RuntimeFailure(temp_path_ + ": cannot create the output file: " + std::strerror(err));
  }
}

GribForecastSink::~GribForecastSink() {
  if (!closed_) discard();
}

void GribForecastSink::discard() noexcept {
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  std::error_code ec;
  if (!temp_path_.empty()) fs::remove(temp_path_, ec);
}

void GribForecastSink::write_step(int member_index, int lead_index, const float* fields) {
  if (closed_ || !file_) throw std::logic_error("GribForecastSink::write_step after close()");
  const auto n_members = static_cast<int>(spec_.member_ids.size());
  const auto n_leads = static_cast<int>(spec_.lead_hours.size());
  if (member_index < 0 || member_index >= n_members || lead_index < 0 || lead_index >= n_leads)
    throw std::out_of_range("GribForecastSink::write_step: member " + std::to_string(member_index) +
                            " / lead " + std::to_string(lead_index) + " outside " +
                            std::to_string(n_members) + " x " + std::to_string(n_leads));
  if (fields == nullptr) throw std::invalid_argument("GribForecastSink::write_step: null fields");
  auto& done = written_[static_cast<size_t>(member_index) * static_cast<size_t>(n_leads) +
                        static_cast<size_t>(lead_index)];
  if (done)
    throw std::logic_error("GribForecastSink::write_step: member " + std::to_string(member_index) +
                           " lead " + std::to_string(lead_index) + " written twice");

  const size_t n_lat = spec_.lat.size(), n_lon = spec_.lon.size();
  const size_t n_channels = spec_.channels.size();
  const long lead = static_cast<long>(spec_.lead_hours[static_cast<size_t>(lead_index)]);
  const long member = static_cast<long>(spec_.member_ids[static_cast<size_t>(member_index)]);
  // Transpose the written channels into contiguous fields in GRIB order (rows
  // north to south) in one pass over the grid-node-major input: reading one
  // channel at a time would touch every cache line of the step per channel.
  const size_t n_grid = n_lat * n_lon, n_messages = messages_.size();
  scratch_.resize(n_messages * n_grid);
  parallel_for(
      static_cast<int64_t>(n_lat),
      [&](int64_t begin, int64_t end) {
        for (auto row = static_cast<size_t>(begin); row < static_cast<size_t>(end); ++row) {
          const float* src = fields + (n_lat - 1 - row) * n_lon * n_channels;
          for (size_t j = 0; j < n_lon; ++j, src += n_channels)
            for (size_t k = 0; k < n_messages; ++k)
              scratch_[k * n_grid + row * n_lon + j] = src[messages_[k].channel];
        }
      },
      parallel_min_rows(static_cast<int64_t>(n_lon * n_messages)));

  for (size_t k = 0; k < n_messages; ++k) {
    ChannelMessage& m = messages_[k];
    const float* field = scratch_.data() + k * n_grid;
    for (size_t g = 0; g < n_grid; ++g) values_[g] = field[g];
    GribHandle& h = m.handle;
    h.set_long("perturbationNumber", member);
    if (m.accumulation) {
      h.set_string("stepRange", std::to_string(lead - kAccumulationHours) + "-" +
                                    std::to_string(lead));
    } else {
      h.set_long("step", lead);
    }
    h.set_values(values_);
    const void* bytes = nullptr;
    size_t size = 0;
    h.message(&bytes, &size);
    if (std::fwrite(bytes, 1, size, file_) != size) {
      const int err = errno;
      throw RuntimeFailure(temp_path_ + ": writing a GRIB message failed: " + std::strerror(err));
    }
  }
  done = 1;
}

void GribForecastSink::close() {
  if (closed_) return;
  try {
    const auto n_leads = spec_.lead_hours.size();
    for (size_t i = 0; i < written_.size(); ++i) {
      if (!written_[i])
        throw RuntimeFailure(spec_.path + ": member " +
                             std::to_string(spec_.member_ids[i / n_leads]) + " lead " +
                             std::to_string(spec_.lead_hours[i % n_leads]) +
                             " h was never written; the output is incomplete");
    }
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
      const int err = errno;
      throw RuntimeFailure(temp_path_ + ": flushing the output failed: " + std::strerror(err));
    }
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) {
      const int err = errno;
      throw RuntimeFailure(temp_path_ + ": closing the output failed: " + std::strerror(err));
    }
    std::error_code ec;
    fs::rename(temp_path_, spec_.path, ec);
    if (ec)
      throw RuntimeFailure(spec_.path + ": cannot move the finished output into place: " +
                           ec.message());
  } catch (...) {
    discard();
    closed_ = true;
    throw;
  }
  closed_ = true;
}

std::string GribForecastSink::slow_write_hint() const {
  return "GRIB packing (ecCodes) runs on one thread: --variables writes fewer fields";
}

}  // namespace gencast
