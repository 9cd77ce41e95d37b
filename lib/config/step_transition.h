// The tables of the 12 h step transition done on the backend
// (Backend::step_to_physical / Backend::step_advance): per target channel how
// the model's normalized output becomes physical, and per conditioning column
// where the next step's value comes from. Plain data: lib/data's
// step_transition_plan builds them from the task and the normalization stats
// (the same rules as data/normalization.h), the backends read them. They are
// here, in config, because both of those layers see config and not each other.
//
// Row layout of the tensors the ops work on: B slots (members) of n_grid rows
// each, stacked; grid nodes lat-major, so a row's longitude index is
// row % n_lon for every slot.
#pragma once

#include <cstdint>
#include <vector>

namespace gencast {

// Bits of StepTransitionTables::target_flags.
enum StepTargetFlag : uint8_t {
  // physical = x * scale + base (residual vs the last input frame); else
  // physical = x * scale + offset.
  kStepResidual = 1,
  // physical is NaN where the land mask is set (the NaN-cleaned variable).
  kStepRestoreNan = 2,
  // The residual base (the newest input frame) has NaN replaced by `fill`.
  kStepFillBase = 4,
};

// Where a conditioning column of the next step comes from.
enum StepColumnKind : int32_t {
  kColumnKeep = 0,     // unchanged (static fields)
  kColumnShift = 1,    // this step's column `index` (the next-newer input frame)
  kColumnNewest = 2,   // physical target `index`, normalized: (v - mean) / stddev
  kColumnForcing = 3,  // row `index` of the host-computed forcings, at the row's longitude
};

struct StepTransitionTables {
  int64_t n_lon = 1;
  int frames = 1;  // input frames: the land mask holds one bit per frame
  // The NaN-cleaned variable's fill value (its min_by_level).
  float fill = 0.f;
  // Target channel whose NaNs set the newest frame's land bit; -1: no land
  // mask (the NaN-cleaned variable is not both an input and a target).
  int land_target = -1;
  // Per target channel [n_targets].
  std::vector<uint8_t> target_flags;
  std::vector<float> scale, offset;
  // Per conditioning column [n_conditioning]. Shifts read this step's values:
  // the ops read every source of a row before writing any of its columns.
  std::vector<int32_t> column_kind, column_index;
  std::vector<float> mean, stddev;       // kColumnNewest only
  std::vector<uint8_t> column_fill_nan;  // kColumnNewest: NaN -> fill before normalizing
  int64_t forcing_rows = 0;              // rows of the forcings tensor [forcing_rows, n_lon]

  int64_t n_targets() const { return static_cast<int64_t>(target_flags.size()); }
  int64_t n_conditioning() const { return static_cast<int64_t>(column_kind.size()); }
};

}  // namespace gencast
