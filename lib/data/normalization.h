// Turning physical input frames into the normalized conditioning of one 12 h
// step, and the model's normalized output back into physical fields: the
// reference's NaNCleaner(InputsAndResiduals(GenCast)) wrappers.
//
//  * NaN cleaning (outermost): sea_surface_temperature NaNs in the inputs are
//    filled with min_by_level BEFORE normalization, so the residual base (the
//    last input frame) is the filled value; after un-normalizing, SST is NaN
//    again wherever any input frame of SST was NaN.
//  * Inputs and forcings: (x - mean) / stddev, float32.
//  * Targets that are inputs: normalized residual vs the last input frame,
//    physical = residual * diffs_stddev + last_input; other targets
//    (precipitation): physical = x * stddev + mean.
// Layouts: grid nodes lat-major (node = ilat * n_lon + ilon); per-node
// channel rows in the orders of data/stacking.h.
#pragma once

#include <cstdint>
#include <vector>

#include "config/model_config.h"
#include "config/stacking.h"
#include "core/array.h"
#include "io/netcdf_input.h"
#include "io/stats.h"

namespace gencast {

// One step's prepared, normalized conditioning.
struct StepConditioning {
  int64_t n_grid = 0;
  // [n_grid, n_conditioning]: normalized inputs (all frames) and forcings (at
  // the target time), in the order of the non-target slots of
  // grid_feature_layout() (GridFeatureLayout::cond_index).
  ArrayF features;
  // [n_grid, n_targets]: physical last-frame value per target channel
  // (NaN-filled SST; 0 for targets that are not inputs).
  ArrayF last_input;
  // [n_grid]: 1 where SST must be NaN in the output; empty if SST is not both
  // an input and a target.
  std::vector<uint8_t> sst_nan_mask;
};

// `frames` holds the input frames (physical units, as read); `init_index` is
// the initialisation frame (its input_frame_count()-1 predecessors are used);
// target_time_s = time of the prediction (init + 12 h). RuntimeFailure when
// a normalized value is not finite (e.g. a diverged rollout).
StepConditioning prepare_step(const InputDataset& frames, int64_t init_index,
                              int64_t target_time_s, const NormalizationStats& stats,
                              const TaskConfig& task);

// The same, reusing `cond`'s arrays when their shapes fit (no per-step
// allocation in a rollout). Every pass over the grid runs on core/parallel's workers; the results do
// not depend on the worker count (bit for bit).
void prepare_step_into(StepConditioning& cond, const InputDataset& frames, int64_t init_index,
                       int64_t target_time_s, const NormalizationStats& stats,
                       const TaskConfig& task);

// Model output (normalized-residual space, [n_grid, n_targets]) -> physical
// fields [n_grid, n_targets], SST NaNs restored. Returns how many values are
// not finite other than those restored NaNs (0 unless the model diverged):
// the check rides on the same pass instead of reading the 350 MB again.
int64_t targets_to_physical(const float* normalized, const StepConditioning& cond,
                            const NormalizationStats& stats, const TaskConfig& task,
                            float* physical);

// Autoregressive rollout: the frames of the next step. The oldest input frame
// is dropped and the prediction (physical, [n_grid, n_targets], e.g. with SST
// NaNs, which the next prepare_step fills again) becomes the newest frame.
// The result holds exactly input_frame_count() frames; its init index is the
// last. new_time_s must be 12 h after the init frame.
// In place, for a dataset holding exactly the input frames (its init frame the
// last one), as read_input_dataset returns: no per-step copy of the fields.
void advance_frames_in_place(InputDataset& frames, const float* prediction_physical,
                             int64_t new_time_s, const TaskConfig& task);

InputDataset advance_frames(const InputDataset& frames, int64_t init_index,
                            const float* prediction_physical, int64_t new_time_s,
                            const TaskConfig& task);

}  // namespace gencast
