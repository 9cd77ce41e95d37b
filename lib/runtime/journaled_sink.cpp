#include "runtime/journaled_sink.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "io/partial_output.h"

namespace gencast {

// Steps of a member kept in the sidecar: a group restarts at its slowest
// member's first missing step, and members of a group are at most one
// recorded step apart (they advance together and their steps are written in
// order), so the input_frame_count() = 2 steps before it are among a
// member's last three.
constexpr int kFramesKept = 3;

JournaledSink::JournaledSink(std::unique_ptr<ForecastSink> inner, const ForecastOutputSpec& spec,
                             StepJournal journal, std::optional<FrameStore> frames,
                             std::vector<unsigned char> done, int64_t group_size)
    : inner_(std::move(inner)),
      member_ids_(spec.member_ids),
      lead_hours_(spec.lead_hours),
      values_per_step_(spec.lat.size() * spec.lon.size() * spec.channels.size()),
      journal_(std::move(journal)),
      frames_(std::move(frames)),
      done_(std::move(done)),
      group_size_(std::max<int64_t>(group_size, 1)),
      output_(spec.path) {
  if (done_.size() != member_ids_.size() * lead_hours_.size())
    throw std::invalid_argument("JournaledSink: `done` is not members x leads");
  saved_ = static_cast<int64_t>(std::count(done_.begin(), done_.end(), 1));
}

JournaledSink::~JournaledSink() {
  if (closed_ || suspended_) return;
  inner_.reset();  // deletes its temporary file
  try {
    remove_partial_output(output_);
  } catch (const std::exception& e) {
    spdlog::warn("{}", e.what());
  }
}

void JournaledSink::write_step(int member_index, int lead_index, const float* fields) {
  inner_->write_step(member_index, lead_index, fields);
  const int64_t member = member_ids_.at(static_cast<size_t>(member_index));
  const int64_t lead = lead_hours_.at(static_cast<size_t>(lead_index));
  if (frames_) frames_->write(member, lead, fields, values_per_step_);
  inner_->flush();
  journal_.commit({JournalRecord{member, lead, fields_digest(fields, values_per_step_)}});
  const size_t n_leads = lead_hours_.size();
  auto& done = done_[static_cast<size_t>(member_index) * n_leads + static_cast<size_t>(lead_index)];
  if (!done) ++saved_;
  done = 1;
  if (frames_) drop_frames(member_index, lead_index);
}

void JournaledSink::drop_frames(int member_index, int lead_index) const {
  const size_t n_leads = lead_hours_.size();
  const int64_t member = member_ids_[static_cast<size_t>(member_index)];
  if (lead_index >= kFramesKept)
    frames_->remove(member, lead_hours_[static_cast<size_t>(lead_index - kFramesKept)]);
  // A complete group continues from nothing: drop its members' last frames.
  const int64_t group = member_index / group_size_;
  const auto first = static_cast<size_t>(group * group_size_);
  const size_t last = std::min(member_ids_.size(), first + static_cast<size_t>(group_size_));
  for (size_t m = first; m < last; ++m)
    for (size_t l = 0; l < n_leads; ++l)
      if (!done_[m * n_leads + l]) return;
  for (size_t m = first; m < last; ++m)
    for (size_t k = 1; k <= std::min<size_t>(kFramesKept, n_leads); ++k)
      frames_->remove(member_ids_[m], lead_hours_[n_leads - k]);
}

void JournaledSink::close() {
  inner_->close();
  closed_ = true;
  remove_partial_output(output_);  // the journal and sidecar; the data file is renamed away
}

void JournaledSink::suspend() {
  if (saved_ == 0) return;  // nothing worth keeping
  suspended_ = true;  // kept even if closing fails: the journal says what is durable
  inner_->suspend();
}

}  // namespace gencast
