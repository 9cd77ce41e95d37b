#include "runtime/member_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "core/text.h"
#include "devices/device_factory.h"
#include "runtime/interrupt.h"
#include "runtime/memory_plan.h"
#include "sampler/backend_noise.h"
#include "sampler/dpm_solver.h"
#include "spec/run_spec.h"

namespace gencast {

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
  cond_.resize(static_cast<size_t>(batch_));
  frames_.resize(static_cast<size_t>(batch_));
}

MemberWorker::~MemberWorker() = default;

std::string MemberWorker::label() const {
  return backend_->name() + " (" + backend_->device_name() + ")";
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
  const auto C = static_cast<int64_t>(target_channels(task).size());
  if (!x_.defined() || x_.rows() != B * G || x_.cols() != C) {
    x_ = backend_->empty({B * G, C}, DType::f32);
    normalized_ = ArrayF({B * G, C});
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
  for (auto& f : frames_) assign_frames(f, initial);  // every member starts from the same frames
  if (first > 0)
    for (int64_t b = 0; b < used; ++b)
      rebuild_frames(frames_[static_cast<size_t>(b)], resume->recent.at(slot_index[static_cast<size_t>(b)]),
                     first, task);
  for (int64_t step = first; step < run.steps; ++step) {
    if (stop.load()) return;
    // The host work between two sampler steps is on the critical path:
    // each phase is timed (debug log) so that it can be watched on the target host.
    const auto ts = Clock::now();
    auto lap_start = ts;
    auto lap_ms = [&lap_start] {
      const auto now = Clock::now();
      const double ms = std::chrono::duration<double, std::milli>(now - lap_start).count();
      lap_start = now;
      return ms;
    };
    const int64_t init_index = static_cast<int64_t>(frames_[0].times_s.size()) - 1;
    const int64_t target_time = frames_[0].times_s.back() + kHoursPerStep * 3600;
    for (int64_t b = 0; b < used; ++b)
      prepare_step_into(cond_[static_cast<size_t>(b)], frames_[static_cast<size_t>(b)],
                        init_index, target_time, *run.stats, task);
    const double prepare_ms = lap_ms();
    if (B == 1) {
      denoiser_->set_conditioning(cond_[0].features);
    } else {
      const ArrayF& f0 = cond_[0].features;
      const int64_t row = f0.numel();
      if (features_.shape != Shape{B * G, f0.shape.back()}) features_ = ArrayF({B * G, f0.shape.back()});
      for (int64_t b = 0; b < B; ++b) {
        const ArrayF& f = cond_[static_cast<size_t>(std::min(b, used - 1))].features;
        std::copy(f.data.begin(), f.data.end(), features_.data.begin() + b * row);
      }
      denoiser_->set_conditioning(features_);
    }
    const double conditioning_ms = lap_ms();
    run_sampler_step(*backend_, run.schedule, run.noise_inflation, static_cast<int>(step),
                     denoise, noise, x_);
    backend_->synchronize();  // so that the download below times the transfer alone
    const double sampler_ms = lap_ms();
    backend_->download(x_, normalized_.ptr());
    const double download_ms = lap_ms();
    double physical_ms = 0, advance_ms = 0, write_ms = 0;
    for (int64_t b = 0; b < used; ++b) {
      const auto slot = static_cast<size_t>(b);
      ArrayF physical = writer.take_buffer({G, C});
      // A diverged model shows up as non-finite values; fail loudly instead of
      // writing them (SST is NaN over land by design and is not counted).
      const int64_t bad = targets_to_physical(normalized_.ptr() + b * G * C, cond_[slot],
                                              *run.stats, task, physical.ptr());
      if (bad > 0)
        throw RuntimeFailure("member " + std::to_string(slot_member[slot]) + " step " +
                             std::to_string(step + 1) + " produced " + std::to_string(bad) +
                             " non-finite values outside the SST land mask (the model "
                             "diverged); no output file was written");
      physical_ms += lap_ms();
      if (step + 1 < run.steps)
        advance_frames_in_place(frames_[slot], physical.ptr(), target_time, task);
      advance_ms += lap_ms();
      // A step the partial output holds already was recomputed only because
      // its group restarted with a slower member: bitwise the same, not written again.
      if (resume == nullptr || !resume->is_done(slot_index[slot], step))
        writer.write_step(static_cast<int>(slot_index[slot]), static_cast<int>(step),
                          std::move(physical));
      write_ms += lap_ms();
    }
    spdlog::debug(
        "{} members {} step {}: prepare {:.0f} ms, set_conditioning {:.0f} ms, sampler {:.0f} ms, "
        "download {:.0f} ms, to physical + check {:.0f} ms, advance {:.0f} ms, queue write "
        "{:.0f} ms",
        backend_->name(), join_numbers(std::vector<int64_t>(slot_member.begin(), slot_member.begin() + used), ","),
        step + 1, prepare_ms, conditioning_ms, sampler_ms, download_ms, physical_ms, advance_ms,
        write_ms);
    const double seconds = std::chrono::duration<double>(Clock::now() - ts).count();
    for (int64_t b = 0; b < used; ++b)
      if (resume == nullptr || !resume->is_done(slot_index[static_cast<size_t>(b)], step))
        progress.step_done(slot_index[static_cast<size_t>(b)], slot_member[static_cast<size_t>(b)],
                           step, seconds);
    throw_if_interrupted();
  }
}

}  // namespace gencast
