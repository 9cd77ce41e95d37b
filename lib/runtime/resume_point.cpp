#include "runtime/resume_point.h"

#include <algorithm>
#include <stdexcept>

#include "config/variables.h"
#include "data/normalization.h"

namespace gencast {

bool ResumePoint::is_done(int64_t member_index, int64_t step) const {
  if (done.empty()) return false;
  return done.at(static_cast<size_t>(member_index * steps + step)) != 0;
}

int64_t ResumePoint::done_prefix(int64_t member_index) const {
  int64_t n = 0;
  while (n < steps && is_done(member_index, n)) ++n;
  return n;
}

int64_t ResumePoint::first_step(const std::vector<int64_t>& member_indices) const {
  if (done.empty()) return 0;
  int64_t first = steps;
  for (int64_t m : member_indices) first = std::min(first, done_prefix(m));
  return first;
}

int64_t ResumePoint::saved() const {
  return static_cast<int64_t>(std::count(done.begin(), done.end(), 1));
}

void rebuild_frames(InputDataset& frames, const std::vector<ArrayF>& recent, int64_t first_step,
                    const TaskConfig& task) {
  const auto k = static_cast<int64_t>(recent.size());
  if (k != std::min<int64_t>(first_step, input_frame_count(task)))
    throw std::invalid_argument("rebuild_frames: need the fields of the last min(first_step, frames) steps");
  // Time stamps as if the rollout had already made first_step - k steps; the
  // k advances below then replace every frame that an uninterrupted rollout
  // would have replaced, and leave the initial frames it would have kept.
  for (auto& t : frames.times_s) t += (first_step - k) * kModelStepSeconds;
  for (const ArrayF& fields : recent)
    advance_frames_in_place(frames, fields.ptr(), frames.times_s.back() + kModelStepSeconds, task);
}

}  // namespace gencast
