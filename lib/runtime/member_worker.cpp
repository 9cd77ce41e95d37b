#include "runtime/member_worker.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "devices/device_factory.h"
#include "runtime/interrupt.h"
#include "runtime/memory_plan.h"
#include "sampler/backend_noise.h"
#include "sampler/dpm_solver.h"
#include "spec/run_spec.h"

namespace gencast {

void check_device_memory(const Backend& backend, const MemoryEstimate& estimate,
                         ProblemList& problems) {
  const auto free_bytes = static_cast<double>(backend.free_memory_bytes());
  if (free_bytes > 0 && static_cast<double>(estimate.total()) > free_bytes)
    problems.add("", "runtime.device",
                 "at most " + format_bytes(free_bytes) + " of memory (free on " +
                     backend.device_name() + ")",
                 "an estimated " + format_bytes(static_cast<double>(estimate.total())) +
                     " for this run",
                 "use --precision bf16, a coarser grid, or a device with more memory");
}

MemberWorker::MemberWorker(const std::string& device, Precision precision,
                           const PreparedModel& model, EdgeCache edge_cache, int64_t n_lat,
                           int64_t n_lon) {
  backend_ = make_backend(device, precision);
  ProblemList problems;
  check_device_memory(*backend_,
                      estimate_forecast_memory(model.checkpoint.config, n_lat, n_lon, precision,
                                               kDefaultChunkRows),
                      problems);
  problems.throw_if_any();
  spdlog::info("device {}, precision {}", label(), precision_name(precision));
  denoiser_ = model.make_denoiser(*backend_, kDefaultChunkRows, edge_cache);
  noise_plan_ = backend_->plan_noise(n_lat, n_lon);
}

MemberWorker::~MemberWorker() = default;

std::string MemberWorker::label() const {
  return backend_->name() + " (" + backend_->device_name() + ")";
}

void MemberWorker::run_member(const EnsembleRun& run, int64_t member_index,
                              AsyncForecastWriter& writer, ForecastProgress& progress,
                              const std::atomic<bool>& stop) {
  using Clock = std::chrono::steady_clock;
  const TaskConfig& task = run.config->task;
  const InputDataset& initial = *run.initial;
  const int64_t member = run.member_ids.at(static_cast<size_t>(member_index));
  const int64_t G = initial.n_grid();
  const auto C = static_cast<int64_t>(target_channels(task).size());
  if (!x_.defined() || x_.rows() != G || x_.cols() != C) {
    x_ = backend_->empty({G, C}, DType::f32);
    normalized_ = ArrayF({G, C});
  }
  const NoiseFn noise = make_backend_noise(*backend_, *noise_plan_, run.seed,
                                           static_cast<uint32_t>(member), C);
  const DenoiseFn denoise = [this](float sigma, const Tensor& in, Tensor& out) {
    throw_if_interrupted();
    denoiser_->denoise(sigma, in, out);
  };
  assign_frames(frames_, initial);  // every member starts from the same two frames
  for (int64_t step = 0; step < run.steps; ++step) {
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
    const int64_t init_index = static_cast<int64_t>(frames_.times_s.size()) - 1;
    const int64_t target_time = frames_.times_s.back() + kHoursPerStep * 3600;
    prepare_step_into(cond_, frames_, init_index, target_time, *run.stats, task);
    const double prepare_ms = lap_ms();
    denoiser_->set_conditioning(cond_.features);
    const double conditioning_ms = lap_ms();
    run_sampler_step(*backend_, run.schedule, run.noise_inflation, static_cast<int>(step),
                     denoise, noise, x_);
    backend_->synchronize();  // so that the download below times the transfer alone
    const double sampler_ms = lap_ms();
    backend_->download(x_, normalized_.ptr());
    const double download_ms = lap_ms();
    ArrayF physical = writer.take_buffer({G, C});
    // A diverged model shows up as non-finite values; fail loudly instead of
    // writing them (SST is NaN over land by design and is not counted).
    const int64_t bad =
        targets_to_physical(normalized_.ptr(), cond_, *run.stats, task, physical.ptr());
    if (bad > 0)
      throw RuntimeFailure("member " + std::to_string(member) + " step " +
                           std::to_string(step + 1) + " produced " + std::to_string(bad) +
                           " non-finite values outside the SST land mask (the model "
                           "diverged); no output file was written");
    const double physical_ms = lap_ms();
    if (step + 1 < run.steps) advance_frames_in_place(frames_, physical.ptr(), target_time, task);
    const double advance_ms = lap_ms();
    writer.write_step(static_cast<int>(member_index), static_cast<int>(step), std::move(physical));
    spdlog::debug(
        "{} member {} step {}: prepare {:.0f} ms, set_conditioning {:.0f} ms, sampler {:.0f} ms, "
        "download {:.0f} ms, to physical + check {:.0f} ms, advance {:.0f} ms, queue write "
        "{:.0f} ms",
        backend_->name(), member, step + 1, prepare_ms, conditioning_ms, sampler_ms, download_ms,
        physical_ms, advance_ms, lap_ms());
    progress.step_done(member_index, member, step,
                       std::chrono::duration<double>(Clock::now() - ts).count());
    throw_if_interrupted();
  }
}

}  // namespace gencast
