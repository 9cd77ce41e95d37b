// The GRIB2 forecast sink (io/forecast_sink.h): one GRIB2 message per
// (member, lead time, variable, level), in the order the steps arrive.
//
// What a message says (the conventions of ECMWF ensemble output, as ERA5,
// ai-models and anemoi files carry them, so grib_ls, cfgrib and earthkit
// read it without options):
//  - centre ecmf, dataDate/dataTime = the initialisation time, step in hours;
//  - every member is a perturbed forecast (dataType pf, typeOfProcessedData
//    4) with perturbationNumber = its member id and numberOfForecastsInEnsemble
//    = the members in the file; GenCast has no control member;
//  - instantaneous fields use product template 4.1; total_precipitation_12hr
//    is tp (m) accumulated over the 12 h ending at the step (template 4.11,
//    stepRange "12-24" for the 24 h lead);
//  - paramId/typeOfLevel/level from io/grib_params.h (2t at 2 m, 10u/10v at
//    10 m above ground, msl on meanSea, sst and tp on the surface, the
//    pressure-level variables on isobaricInhPa);
//  - a regular_ll grid scanned north to south, west to east, as ERA5;
//  - NaN (sea surface temperature over land) is missing through a bitmap.
//
// Packing (output.grib_packing): simple packing with 16 bits per value, whose
// error is at most the field's (max - min) / 65535 (ecCodes picks a binary
// scale 2^E >= range / 65535 and rounds to the nearest step 2^E), or 32-bit
// IEEE floats, which store the float32 forecast exactly.
//
// Contract (io/forecast_sink.h): data goes to "<path>.partial-<pid>" and is
// renamed at close(); any (member, lead) order, each once; one thread.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/forecast_sink.h"
#include "io/grib_handle.h"

namespace gencast {

// The largest member id and member count a GRIB2 file can carry:
// perturbationNumber and numberOfForecastsInEnsemble are one octet each, and
// 255 means "missing".
inline constexpr int64_t kMaxGribMemberId = 254;

// Every user-facing problem with GRIB output: the path, variables that are not
// targets, member ids or counts beyond one octet.
void check_grib_output_options(const ForecastOutputSpec& spec,
                               const std::vector<std::string>& target_variables,
                               ProblemList& problems);

class GribForecastSink final : public ForecastSink {
 public:
  // Validates the spec (InputError for user options, std::invalid_argument
  // for an inconsistent grid or channel description), prepares one message
  // per written channel and creates the temporary file.
  explicit GribForecastSink(ForecastOutputSpec spec);
  ~GribForecastSink() override;
  GribForecastSink(const GribForecastSink&) = delete;
  GribForecastSink& operator=(const GribForecastSink&) = delete;

  void write_step(int member_index, int lead_index, const float* fields) override;
  void close() override;
  const std::string& path() const override { return spec_.path; }
  std::string slow_write_hint() const override;
  const std::string& temp_path() const { return temp_path_; }

 private:
  // One written channel: its column in `fields` and its prepared message.
  struct ChannelMessage {
    int channel = 0;
    bool accumulation = false;
    GribHandle handle;
  };

  void discard() noexcept;

  ForecastOutputSpec spec_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  bool closed_ = false;
  std::vector<ChannelMessage> messages_;
  std::vector<unsigned char> written_;  // [member][lead]
  std::vector<float> scratch_;          // [message][GRIB point]: the step's written fields
  std::vector<double> values_;          // one field in GRIB scanning order
};

}  // namespace gencast
