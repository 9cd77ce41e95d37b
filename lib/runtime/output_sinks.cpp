#include "runtime/output_sinks.h"

#include "io/grib_forecast_sink.h"
#include "io/netcdf_forecast_writer.h"

namespace gencast {

void check_sink_options(OutputFormat format, const ForecastOutputSpec& spec,
                        const std::vector<std::string>& target_variables, ProblemList& problems) {
  switch (format) {
    case OutputFormat::netcdf: return check_output_options(spec, target_variables, problems);
    case OutputFormat::grib: return check_grib_output_options(spec, target_variables, problems);
  }
}

void check_sink_path(OutputFormat format, const std::string& path, ProblemList& problems) {
  switch (format) {
    case OutputFormat::netcdf:
    case OutputFormat::grib: return check_output_path(path, problems);  // both sinks use it
  }
}

std::unique_ptr<ForecastSink> make_forecast_sink(OutputFormat format, ForecastOutputSpec spec) {
  switch (format) {
    case OutputFormat::netcdf: return std::make_unique<NetcdfForecastWriter>(std::move(spec));
    case OutputFormat::grib: return std::make_unique<GribForecastSink>(std::move(spec));
  }
  throw std::logic_error("make_forecast_sink: an OutputFormat without a sink");
}

bool sink_can_resume(OutputFormat format) {
  switch (format) {
    case OutputFormat::netcdf: return true;
    case OutputFormat::grib: return false;  // a GRIB file is written as one stream
  }
  return false;
}

std::unique_ptr<ForecastSink> reopen_forecast_sink(OutputFormat format, ForecastOutputSpec spec,
                                                   std::vector<unsigned char> written) {
  switch (format) {
    case OutputFormat::netcdf:
      return std::make_unique<NetcdfForecastWriter>(std::move(spec), std::move(written));
    case OutputFormat::grib: break;
  }
  throw std::logic_error(std::string("reopen_forecast_sink: ") + output_format_name(format) +
                         " cannot be resumed");
}

}  // namespace gencast
