// The host half of the 12 h step transition on the backend: the column maps
// that let Backend::step_to_physical / step_advance turn one step's
// normalized model output into physical fields and the next step's
// conditioning rows without the host frames (see config/step_transition.h),
// and the few values the host still computes per step (the progress forcings
// of the new times) and once per rollout (the land mask's frame bits).
//
// Same rules as data/normalization.h, so that plan + op give bitwise what
// prepare_step_into / targets_to_physical / advance_frames_in_place give:
//  * an input column of frame t < newest takes the column of frame t + 1 (the
//    frames move down by one, already normalized: the same float32 values);
//  * an input column of the newest frame is the prediction's target channel of
//    the same variable and level, NaN-filled (SST) and normalized;
//  * progress features (inputs of the newest frame, forcings at the target
//    time) are computed on the host per step: one value per longitude;
//  * statics never change.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "config/step_transition.h"
#include "io/netcdf_input.h"
#include "io/stats.h"

namespace gencast {

struct StepTransition {
  StepTransitionTables tables;
  // Row j of the forcings tensor: progress feature `name` at the step's
  // target time (forcing) or at its newest input frame (12 h earlier).
  struct ForcingRow {
    std::string name;
    bool at_target = true;
    float mean = 0.f, stddev = 1.f;
  };
  std::vector<ForcingRow> forcing_rows;
};

// InputError for a task whose inputs cannot roll forward (an input that is not
// a target), as advance_frames; std::logic_error for forcings other than
// progress features (check_task_supported rejects those first).
StepTransition plan_step_transition(const TaskConfig& task, const NormalizationStats& stats,
                                    int64_t n_lon);

// The normalized forcing rows [forcing_rows, lon.size()] of the step that
// predicts target_time_s, into `out`. RuntimeFailure when one is not finite
// (as prepare_step_into).
void step_forcings(const StepTransition& plan, int64_t target_time_s,
                   const std::vector<float>& lon, float* out);

// The land mask's frame bits of the step whose init frame is `init_index`:
// bit f set where the NaN-cleaned variable of input frame f (0 = oldest) is
// NaN, as floats [n_grid]. All zero when the plan has no land mask.
void step_land_bits(const StepTransition& plan, const InputDataset& frames, int64_t init_index,
                    float* out);

// How many values of one slot's physical fields [n_grid, n_targets] are not
// finite, other than the NaNs restored over land (`land` bits != 0; null when
// the plan has no land mask): targets_to_physical's count, on the fields
// Backend::step_to_physical produced.
int64_t count_non_finite(const StepTransitionTables& tables, const float* physical,
                         const float* land, int64_t n_grid);

}  // namespace gencast
