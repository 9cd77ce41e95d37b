// A resumable output: wraps the sink of a resumable format and keeps the
// partial output's step journal (io/step_journal.h) -- and, when the sink's
// file cannot give a member's frames back bit for bit, the state sidecar
// (io/frame_store.h) -- in step with it.
//
// The ordering that makes a record trustworthy, for every step written:
//   1. the sink writes the step;            2. (sidecar) its fields are
//   written beside, fsync'd and renamed in; 3. the sink's flush() makes the
//   data durable (HDF5 flush + fsync);      4. the journal record is appended
//   and fsync'd.
// A crash before 4 leaves the step unrecorded: it is recomputed (it was in
// flight). A crash after 4 finds the data durable. A step's chunks are new
// file space, never a recorded step's.
//
// What this ordering cannot make atomic is HDF5's own metadata: without
// SWMR (which netCDF-4 files do not use) HDF5 updates chunk-index nodes in
// place, during a flush or when its cache evicts them, so a kill inside such
// an update could in principle leave an index that loses a recorded chunk.
// Resume therefore reads back the steps each member continues from and
// checks them against their journal digests (a mismatch recomputes the
// member); re-reading every recorded chunk would cost as much as reading
// the whole file, which is why the other steps are trusted to the index.
//
// Runs on the AsyncForecastWriter's thread, so the flushes cost the forecast
// nothing while the writer keeps up.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/forecast_sink.h"
#include "io/frame_store.h"
#include "io/step_journal.h"

namespace gencast {

class JournaledSink final : public ForecastSink {
 public:
  // `inner` writes `spec` (fresh or reopened); `journal` is its journal;
  // `frames` the sidecar, when kept. `done` ([member][lead]) marks the steps
  // already recorded; `group_size` = members per denoiser call (their frames
  // are dropped together, when every member of the group is complete).
  JournaledSink(std::unique_ptr<ForecastSink> inner, const ForecastOutputSpec& spec,
                StepJournal journal, std::optional<FrameStore> frames,
                std::vector<unsigned char> done, int64_t group_size);
  // Unless closed or suspended: deletes the sink's file, the journal and the sidecar.
  ~JournaledSink() override;

  void write_step(int member_index, int lead_index, const float* fields) override;
  // Publishes the file, then removes the journal and the sidecar.
  void close() override;
  void flush() override { inner_->flush(); }
  // Keeps everything for --resume when at least one step is recorded;
  // otherwise does nothing (the destructor then removes it all).
  void suspend() override;
  const std::string& path() const override { return inner_->path(); }
  std::string slow_write_hint() const override { return inner_->slow_write_hint(); }

  // Member-steps recorded in the journal, and of how many.
  int64_t saved() const { return saved_.load(); }
  int64_t total() const { return static_cast<int64_t>(done_.size()); }
  bool suspended() const { return suspended_; }

 private:
  void drop_frames(int member_index, int lead_index) const;

  std::unique_ptr<ForecastSink> inner_;
  std::vector<int64_t> member_ids_, lead_hours_;
  size_t values_per_step_ = 0;
  StepJournal journal_;
  std::optional<FrameStore> frames_;
  std::vector<unsigned char> done_;
  int64_t group_size_ = 1;
  std::atomic<int64_t> saved_{0};
  bool closed_ = false, suspended_ = false;
  std::string output_;
};

}  // namespace gencast
