// The sink factory: maps output.format to the io/ implementation. The one
// place the runtime learns which file formats exist.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/run_options.h"
#include "core/error.h"
#include "io/forecast_sink.h"

namespace gencast {

// Every problem with the output options for `format` (path, variables, ...).
void check_sink_options(OutputFormat format, const ForecastOutputSpec& spec,
                        const std::vector<std::string>& target_variables, ProblemList& problems);

// Problems with only the output path for `format` (the folder exists and
// files of that name can be created there), checkable before the model loads.
void check_sink_path(OutputFormat format, const std::string& path, ProblemList& problems);

// A new sink writing `spec` in `format` (creates its temporary file).
std::unique_ptr<ForecastSink> make_forecast_sink(OutputFormat format, ForecastOutputSpec spec);

// Whether `format`'s sink can continue an interrupted run's partial file
// (flush, suspend and reopen): the output formats --resume supports.
bool sink_can_resume(OutputFormat format);
// The sink of a resumable `format` reopening the partial file an interrupted
// run of `spec` left; `written` ([member][lead]) marks the steps it holds.
std::unique_ptr<ForecastSink> reopen_forecast_sink(OutputFormat format, ForecastOutputSpec spec,
                                                   std::vector<unsigned char> written);

}  // namespace gencast
