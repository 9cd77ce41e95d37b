// Where a resumed forecast continues (runtime/output_session.h builds it from
// a partial output): which member-steps the partial holds, and for each
// member in progress the fields it continues from.
//
// Why this is all the state a member needs: its next step reads only its
// input frames, which are the initial frames rolled forward by its own
// predictions (data/normalization.h, advance_frames_in_place), and noise
// keyed by (seed, member, step) (numerics/noise_key.h) -- there is no RNG
// state to save. Batched members run in fixed groups that advance together;
// a group restarts at the first step any of its members lacks and does not
// write again the steps others of it already hold (recomputed, they are
// bitwise the same at the same batch).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "config/model_config.h"
#include "core/array.h"
#include "io/netcdf_input.h"

namespace gencast {

struct ResumePoint {
  int64_t members = 0, steps = 0;
  std::vector<unsigned char> done;  // [member_index * steps + step]; empty = nothing saved
  // Per member index continuing mid-forecast: the physical fields
  // ([n_grid, target channels]) of the steps just before its group's first
  // step, oldest first (at most input_frame_count() of them).
  std::map<int64_t, std::vector<ArrayF>> recent;

  bool is_done(int64_t member_index, int64_t step) const;
  // How many steps of member_index are held in a row from the first.
  int64_t done_prefix(int64_t member_index) const;
  // The first step a group of members computes: its members' smallest prefix.
  int64_t first_step(const std::vector<int64_t>& member_indices) const;
  // Member-steps held.
  int64_t saved() const;
};

// `frames` (a copy of the initial frames) becomes the frames of a rollout
// after `first_step` steps whose latest predictions are `recent` (oldest
// first; min(first_step, input_frame_count()) of them): bit for bit those of
// an uninterrupted rollout.
void rebuild_frames(InputDataset& frames, const std::vector<ArrayF>& recent, int64_t first_step,
                    const TaskConfig& task);

}  // namespace gencast
