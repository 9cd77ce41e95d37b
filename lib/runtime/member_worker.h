// One device's share of an ensemble forecast. A MemberWorker owns everything
// a member's rollout touches on its device — the backend, the denoiser (its
// weights and scratch), the noise plan, the sampler state and the host
// buffers of one step — so that several workers (one per GPU, or two on one
// device) run members side by side without sharing mutable state. The
// scheduler (runtime/member_scheduler.h) hands members to workers; finished
// steps go to the shared, thread-safe AsyncForecastWriter.
//
// Between two steps the state stays on the device: the host prepares only a
// group's first step (data/normalization.h); after that the backend turns
// the model's output into physical fields and the next step's conditioning
// (data/step_transition_plan.h: bitwise the host path's values), and the
// host downloads the physical fields for the writer, checks them, and
// computes the few forcing values of the new time.
//
// Invariant (the ensemble contract): member k's values depend only on the
// run (spec, checkpoint, stats, input) and k — never on which worker ran it,
// in which order, or how many workers there were. A worker's state is reset
// at the start of every member, and noise is keyed by (seed, k).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"
#include "config/run_options.h"
#include "data/normalization.h"
#include "data/step_transition_plan.h"
#include "io/netcdf_input.h"
#include "io/stats.h"
#include "model/denoiser.h"
#include "runtime/async_writer.h"
#include "runtime/memory_plan.h"
#include "runtime/model_setup.h"
#include "runtime/progress.h"
#include "runtime/resume_point.h"
#include "sampler/schedule.h"

namespace gencast {

// A first step's host inputs: the conditioning and land bits of frames whose
// last time is the init frame. For the initial frames prepare_first_step makes
// them once per run, while the workers are set up; a group resumed mid-run
// prepares its slots' own from their rebuilt frames the same way.
struct FirstStepInputs {
  StepConditioning cond;
  std::vector<float> land_bits;  // [n_grid]: the land mask's frame bits; empty without one
};
FirstStepInputs prepare_first_step(const TaskConfig& task, const NormalizationStats& stats,
                                   const InputDataset& initial);

// What every worker of a run reads and never writes.
struct EnsembleRun {
  const ModelConfig* config = nullptr;
  const NormalizationStats* stats = nullptr;
  const InputDataset* initial = nullptr;  // the two input frames of the init time
  SamplerSchedule schedule;
  float noise_inflation = 1.f;
  uint64_t seed = 0;
  int64_t steps = 0;
  std::vector<int64_t> member_ids;  // member_index -> member id
  // The initial frames' first step, prepared once for every group that starts
  // at step 0 (required then; run_members throws std::invalid_argument without it).
  const FirstStepInputs* first_step = nullptr;
};

class MemberWorker {
 public:
  // Makes the backend for `device` and the denoiser of `model` on it, for
  // `batch` members per call (kBatchAuto: chosen from the free memory, at
  // most `max_useful_batch`). Throws InputError when the device does not
  // exist or cannot hold the run (estimated before any allocation).
  MemberWorker(const std::string& device, Precision precision, const PreparedModel& model,
               EdgeCache edge_cache, int64_t n_lat, int64_t n_lon, int64_t batch = 1,
               int64_t max_useful_batch = 1);
  ~MemberWorker();
  MemberWorker(const MemberWorker&) = delete;
  MemberWorker& operator=(const MemberWorker&) = delete;

  const Backend& backend() const { return *backend_; }
  // "cuda:0 (NVIDIA H200)", for messages.
  std::string label() const;
  // Members per denoiser call.
  int64_t batch() const { return batch_; }

  // Rolls members `member_indices` of `run` (1..batch() of them) forward
  // together over every step, one denoiser call for all of them, handing
  // each step's physical fields to `writer`. A group smaller than the batch
  // is padded with copies of its last member, whose results are dropped.
  // Checks for interrupts between denoiser calls. RuntimeFailure when the
  // model produces non-finite values. Returns early (nothing more written)
  // once `stop` turns true. With `resume`, the group starts at its first
  // step missing from the partial output (from the fields `resume` holds)
  // and writes only the steps the partial lacks.
  void run_members(const EnsembleRun& run, const std::vector<int64_t>& member_indices,
                   AsyncForecastWriter& writer, ForecastProgress& progress,
                   const std::atomic<bool>& stop, const ResumePoint* resume = nullptr);

 private:
  std::unique_ptr<Backend> backend_;  // declared first: destroyed last
  std::unique_ptr<Denoiser> denoiser_;
  std::unique_ptr<NoisePlan> noise_plan_;
  int64_t batch_ = 1;
  // Prepares a group's first step on the host (its frames: the initial ones,
  // or rebuilt from the partial output when resuming) and uploads it: the
  // denoiser's conditioning rows, the residual bases, the land mask. Every
  // later step's transition runs on the backend (Backend::step_advance).
  void start_group(const EnsembleRun& run, const StepTransition& plan,
                   const std::vector<int64_t>& slot_index, int64_t used, int64_t first,
                   const ResumePoint* resume);
  // The rollout's state on the backend, all slots stacked ([batch * G, ...]),
  // reused across steps and members: the sampler's x (normalized), the
  // physical fields, the residual bases, the land mask's frame bits and the
  // host-computed forcing rows. The host keeps only the land mask (to check
  // the physical fields it downloads) and the forcing rows of one step.
  Tensor x_, physical_, bases_, land_, forcings_;
  // Times of a step's phases on the worker's thread, for finish_step's log line.
  struct StepLaps {
    double prepare_ms, sampler_ms, wait_ms, physical_ms, advance_ms;
  };
  // Where a group's steps go once computed: the same for every step of it.
  struct GroupOutput {
    const EnsembleRun& run;
    int64_t used;  // slots [0, used) hold members; the rest pad
    const std::vector<int64_t>& slot_index;   // the member index of each slot
    const std::vector<int64_t>& slot_member;  // its member id
    const StepTransitionTables& tables;
    bool has_land;
    AsyncForecastWriter& writer;
    ForecastProgress& progress;
    const ResumePoint* resume;  // steps it holds are not written again
  };
  // The end of a step, on a helper thread while the next step computes:
  // downloads the fields of the used slots from physical_, checks them
  // against land_host_, hands them to the writer and reports progress.
  void finish_step(const GroupOutput& group, int64_t step,
                   std::chrono::steady_clock::time_point step_start, const StepLaps& laps);
  std::vector<float> land_host_, forcings_host_;
};

}  // namespace gencast
