#include "runtime/member_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <stdexcept>

#include "core/stopwatch.h"
#include "core/text.h"
#include "devices/device_factory.h"
#include "runtime/interrupt.h"
#include "runtime/memory_plan.h"
#include "sampler/backend_noise.h"
#include "sampler/dpm_solver.h"
#include "spec/run_spec.h"

namespace gencast {
namespace {

// A first step's host inputs from `frames` (their last time the init frame,
// 12 h later the target) into `out`, whose arrays are reused.
void prepare_first_step_into(FirstStepInputs& out, const StepTransition& plan,
                             const InputDataset& frames, const NormalizationStats& stats,
                             const TaskConfig& task) {
  const int64_t init_index = static_cast<int64_t>(frames.times_s.size()) - 1;
  prepare_step_into(out.cond, frames, init_index, frames.times_s.back() + kHoursPerStep * 3600,
                    stats, task);
  if (plan.tables.land_target >= 0) {
    out.land_bits.resize(static_cast<size_t>(frames.n_grid()));
    step_land_bits(plan, frames, init_index, out.land_bits.data());
  }
}

}  // namespace

MemberWorker::MemberWorker(const std::string& device, Precision precision,
                           const PreparedModel& model, EdgeCache edge_cache, int64_t n_lat,
                           int64_t n_lon, int64_t batch, int64_t max_useful_batch) {
  backend_ = make_backend(device, precision);
  const MemoryEstimate one = estimate_forecast_memory(model.checkpoint.config, n_lat, n_lon,
                                                      precision, kDefaultChunkRows);
  batch_ = resolve_batch(batch, one, edge_cache, *backend_, max_useful_batch);
  ProblemList problems;
  check_device_memory(*backend_, scale_for_batch(one, batch_), problems);
  problems.throw_if_any();
  spdlog::info("device {}, precision {}, {} member(s) per denoiser call", label(),
               precision_name(precision), batch_);
  denoiser_ = model.make_denoiser(*backend_, kDefaultChunkRows, edge_cache,
                                  DenoiserOptions{}.segment_split_edges, batch_);
  noise_plan_ = backend_->plan_noise(n_lat, n_lon);
}

MemberWorker::~MemberWorker() = default;

std::string MemberWorker::label() const {
  return backend_->name() + " (" + backend_->device_name() + ")";
}

FirstStepInputs prepare_first_step(const TaskConfig& task, const NormalizationStats& stats,
                                   const InputDataset& initial) {
  FirstStepInputs first;
  prepare_first_step_into(first, plan_step_transition(task, stats, initial.n_lon()), initial,
                          stats, task);
  return first;
}

void MemberWorker::start_group(const EnsembleRun& run, const StepTransition& plan,
                               const std::vector<int64_t>& slot_index, int64_t used, int64_t first,
                               const ResumePoint* resume) {
  const TaskConfig& task = run.config->task;
  const InputDataset& initial = *run.initial;
  const int64_t G = initial.n_grid();
  const bool has_land = plan.tables.land_target >= 0;
  // A first step's conditioning and land bits, uploaded into slots [b0, b1).
  auto upload = [&](const FirstStepInputs& inputs, int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      denoiser_->set_conditioning(inputs.cond.features, b * G);
      Tensor bases = bases_.rows(b * G, G);
      backend_->upload(inputs.cond.last_input.ptr(), bases);
      if (has_land) {
        Tensor land = land_.rows(b * G, G);
        backend_->upload(inputs.land_bits.data(), land);
      }
    }
    backend_->synchronize();  // the uploads have read `inputs` before it is refilled or freed
  };
  if (first == 0) {
    // Every member starts from the same frames: the run's one preparation.
    if (run.first_step == nullptr)
      throw std::invalid_argument("MemberWorker: a group starting at step 0 needs "
                                  "EnsembleRun::first_step (prepare_first_step)");
    upload(*run.first_step, 0, batch_);
    return;
  }
  // Host arrays of this call only: freed when the group's first step is on the device.
  FirstStepInputs slot_inputs;
  for (int64_t b = 0; b < used; ++b) {
    InputDataset frames = initial;  // this slot's frames, rebuilt from the partial output
    rebuild_frames(frames, resume->recent.at(slot_index[static_cast<size_t>(b)]), first, task);
    prepare_first_step_into(slot_inputs, plan, frames, *run.stats, task);
    // Padding slots repeat the last member.
    upload(slot_inputs, b, b + 1 == used ? batch_ : b + 1);
  }
}

void MemberWorker::run_members(const EnsembleRun& run, const std::vector<int64_t>& member_indices,
                               AsyncForecastWriter& writer, ForecastProgress& progress,
                               const std::atomic<bool>& stop, const ResumePoint* resume) {
  using Clock = std::chrono::steady_clock;
  if (member_indices.empty() || static_cast<int64_t>(member_indices.size()) > batch_)
    throw std::invalid_argument("MemberWorker::run_members: 1 to batch() members");
  const TaskConfig& task = run.config->task;
  const InputDataset& initial = *run.initial;
  const int64_t B = batch_;
  const auto used = static_cast<int64_t>(member_indices.size());
  // Slot b runs member_indices[b]; padding slots repeat the last member.
  std::vector<int64_t> slot_index(static_cast<size_t>(B)), slot_member(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    slot_index[static_cast<size_t>(b)] = member_indices[static_cast<size_t>(std::min(b, used - 1))];
    slot_member[static_cast<size_t>(b)] =
        run.member_ids.at(static_cast<size_t>(slot_index[static_cast<size_t>(b)]));
  }
  const int64_t G = initial.n_grid();
  const StepTransition plan = plan_step_transition(task, *run.stats, initial.n_lon());
  const std::unique_ptr<StepTransitionPlan> on_device = backend_->plan_step_transition(plan.tables);
  const int64_t C = plan.tables.n_targets();
  const bool has_land = plan.tables.land_target >= 0;
  if (!x_.defined() || x_.rows() != B * G || x_.cols() != C) {
    x_ = backend_->empty({B * G, C}, DType::f32);
    physical_ = backend_->empty({B * G, C}, DType::f32);
    bases_ = backend_->empty({B * G, C}, DType::f32);
    land_ = has_land ? backend_->empty({B * G, 1}, DType::f32) : Tensor();
    land_host_.assign(has_land ? static_cast<size_t>(B * G) : 0, 0.f);
  }
  if (forcings_.rows() != plan.tables.forcing_rows || forcings_.cols() != initial.n_lon()) {
    forcings_ = plan.tables.forcing_rows > 0
                    ? backend_->empty({plan.tables.forcing_rows, initial.n_lon()}, DType::f32)
                    : Tensor();
    forcings_host_.assign(static_cast<size_t>(plan.tables.forcing_rows * initial.n_lon()), 0.f);
  }
  // Each slot's noise is its member's own stream, written into its rows:
  // the same fields whatever the batch, the slot or the worker.
  const NoiseFn noise = make_backend_noise(
      *backend_, *noise_plan_, run.seed,
      std::vector<uint32_t>(slot_member.begin(), slot_member.end()), C, G);
  const DenoiseFn denoise = [this](float sigma, const Tensor& in, Tensor& out) {
    throw_if_interrupted();
    denoiser_->denoise(sigma, in, out);
  };
  const int64_t first = resume ? resume->first_step(member_indices) : 0;
  if (first >= run.steps) return;  // the partial output holds the whole group
  // A step's fields leave the device, are checked and go to the writer on a
  // helper thread while the next step computes (physical_ is not written
  // again before the next step's to-physical pass, which waits for it): at
  // 0.25 deg that takes ~35 ms a step off the critical path. Its errors
  // surface there too; an early return or an exception waits for it (the
  // future's destructor), so no step is handed over half done.
  const GroupOutput group{run,         used,     slot_index, slot_member, plan.tables,
                          has_land,    writer,   progress,   resume};
  std::future<void> finishing;
  const auto finish_previous = [&finishing] {
    if (finishing.valid()) finishing.get();
  };
  for (int64_t step = first; step < run.steps; ++step) {
    if (stop.load()) return;
    // The host work between two sampler steps is on the critical path:
    // each phase is timed (debug log) so that it can be watched on the target host.
    const auto ts = Clock::now();
    Stopwatch laps(ts);
    // The step that predicts this time (the initial frames' last time + 12 h per step).
    const int64_t target_time = initial.times_s.back() + (step + 1) * kHoursPerStep * 3600;
    if (step == first) start_group(run, plan, slot_index, used, first, resume);
    const double prepare_ms = laps.lap_ms();
    run_sampler_step(*backend_, run.schedule, run.noise_inflation, static_cast<int>(step),
                     denoise, noise, x_);
    backend_->synchronize();  // so that the phases below time themselves alone
    const double sampler_ms = laps.lap_ms();
    finish_previous();  // the previous step's fields are off physical_ (and checked)
    const double wait_ms = laps.lap_ms();
    backend_->step_to_physical(*on_device, x_, bases_, land_, physical_);
    // The mask of this step's inputs, for the check below (the advance moves it on).
    if (has_land) backend_->download(land_, land_host_.data());
    backend_->synchronize();
    const double physical_ms = laps.lap_ms();
    if (step + 1 < run.steps) {
      // The next step's conditioning, on the backend while the host downloads and checks.
      step_forcings(plan, target_time + kHoursPerStep * 3600, initial.lon, forcings_host_.data());
      if (forcings_.numel() > 0) backend_->upload(forcings_host_.data(), forcings_);
      backend_->step_advance(*on_device, physical_, forcings_, bases_, land_,
                             denoiser_->conditioning_rows());
    }
    const double advance_ms = laps.lap_ms();
    finishing = std::async(std::launch::async, [&, step, ts, prepare_ms, sampler_ms, wait_ms,
                                                physical_ms, advance_ms] {
      finish_step(group, step, ts,
                  StepLaps{prepare_ms, sampler_ms, wait_ms, physical_ms, advance_ms});
    });
    throw_if_interrupted();
  }
  finish_previous();
}

void MemberWorker::finish_step(const GroupOutput& group, int64_t step,
                               std::chrono::steady_clock::time_point step_start,
                               const StepLaps& laps) {
  using Clock = std::chrono::steady_clock;
  const auto& [run, used, slot_index, slot_member, tables, has_land, writer, progress, resume] =
      group;
  const int64_t G = run.initial->n_grid(), C = tables.n_targets();
  Stopwatch phases;
  double download_ms = 0, check_ms = 0, write_ms = 0;
  for (int64_t b = 0; b < used; ++b) {
    const auto slot = static_cast<size_t>(b);
    ArrayF physical = writer.take_buffer({G, C});
    backend_->download_concurrent(physical_.rows(b * G, G), physical.ptr());
    download_ms += phases.lap_ms();
    // A diverged model shows up as non-finite values; fail loudly instead of
    // writing them (SST is NaN over land by design and is not counted).
    const int64_t bad = count_non_finite(tables, physical.ptr(),
                                         has_land ? land_host_.data() + b * G : nullptr, G);
    if (bad > 0)
      throw RuntimeFailure("member " + std::to_string(slot_member[slot]) + " step " +
                           std::to_string(step + 1) + " produced " + std::to_string(bad) +
                           " non-finite values outside the SST land mask (the model "
                           "diverged); no output file was written");
    check_ms += phases.lap_ms();
    // A step the partial output holds already was recomputed only because
    // its group restarted with a slower member: bitwise the same, not written again.
    if (resume == nullptr || !resume->is_done(slot_index[slot], step))
      writer.write_step(static_cast<int>(slot_index[slot]), static_cast<int>(step),
                        std::move(physical));
    write_ms += phases.lap_ms();
  }
  spdlog::debug(
      "{} members {} step {}: prepare {:.0f} ms, sampler {:.0f} ms, wait for the previous "
      "step's fields {:.0f} ms, to physical {:.0f} ms, advance {:.0f} ms; alongside the next "
      "step: download {:.0f} ms, check {:.0f} ms, queue write {:.0f} ms",
      backend_->name(),
      join_numbers(std::vector<int64_t>(slot_member.begin(), slot_member.begin() + used), ","),
      step + 1, laps.prepare_ms, laps.sampler_ms, laps.wait_ms, laps.physical_ms,
      laps.advance_ms, download_ms, check_ms, write_ms);
  const double seconds = std::chrono::duration<double>(Clock::now() - step_start).count();
  for (int64_t b = 0; b < used; ++b)
    if (resume == nullptr || !resume->is_done(slot_index[static_cast<size_t>(b)], step))
      progress.step_done(slot_index[static_cast<size_t>(b)], slot_member[static_cast<size_t>(b)],
                         step, seconds);
}

}  // namespace gencast
