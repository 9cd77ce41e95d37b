// Roles of GenCast variables (static, progress forcing, atmospheric) and the
// facts about a task that the data pipeline derives from them: how many input
// frames, which targets are predicted as residuals, which variable carries
// NaNs over land.
//
// Invariants: names follow the ERA5/WeatherBench names used by the reference
// (utils/variables.py). One model step is 12 hours; input frames are spaced
// one step apart and end at the initialisation time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model_config.h"

namespace gencast {

// Seconds between input frames and between forecast steps.
inline constexpr int64_t kModelStepSeconds = 12 * 3600;

// The only variable allowed to hold NaNs (land points of the sea surface
// temperature); it is filled with min_by_level before the model and the NaNs
// are put back into the forecast.
inline constexpr const char* kNanFilledVariable = "sea_surface_temperature";

bool is_static_variable(const std::string& name);   // geopotential_at_surface, land_sea_mask
bool is_progress_forcing(const std::string& name);  // year/day_progress_{sin,cos}
bool has_levels(const std::string& name);           // atmospheric (pressure-level) variables
// Year progress depends on time only; day progress on time and longitude.
bool is_day_progress(const std::string& name);

bool list_contains(const std::vector<std::string>& names, const std::string& name);
// The names in Python's sorted() order (byte order), as the reference stacks them.
std::vector<std::string> sorted_names(std::vector<std::string> names);

// Number of input frames: input_duration / 12 h ("24h" -> 2). InputError
// naming task_config:input_duration when it is not a positive multiple of 12 h.
int64_t input_frame_count(const TaskConfig& task);
// Input variables that are read from the input file with a time dimension
// (everything but statics and progress forcings).
std::vector<std::string> time_varying_inputs(const TaskConfig& task);
// Targets that are also inputs: predicted as residuals from the last input frame.
bool is_residual_target(const TaskConfig& task, const std::string& name);

// InputError (naming task_config fields) when the task asks for something
// this implementation cannot provide: forcings other than progress features,
// forcings that are also targets, targets that are statics or forcings.
void check_task_supported(const TaskConfig& task);

}  // namespace gencast
