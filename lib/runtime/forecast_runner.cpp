#include "devices/device_factory.h"
#include "runtime/forecast_runner.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <future>

#include "backend/backend.h"
#include "core/version.h"
#include "data/normalization.h"
#include "config/stacking.h"
#include "config/variables.h"
#include "model/checkpoint.h"
#include "io/netcdf_forecast_writer.h"
#include "io/netcdf_input.h"
#include "io/stats.h"
#include "runtime/async_writer.h"
#include "runtime/interrupt.h"
#include "runtime/memory_plan.h"
#include "runtime/output_sinks.h"
#include "runtime/model_setup.h"
#include "runtime/progress.h"
#include "sampler/dpm_solver.h"
#include "sampler/schedule.h"
#include "sampler/backend_noise.h"
#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"

namespace gencast {
namespace {

constexpr int64_t kChunkRows = kDefaultChunkRows;

std::string init_time_text(const RunSpec& spec) {
  return spec.input.init_time ? format_init_time(*spec.input.init_time) : std::string();
}

ForecastOutputSpec output_spec(const RunSpec& spec, const ModelConfig& config,
                               const InputDataset& input, int64_t init_time_s) {
  ForecastOutputSpec o;
  o.path = spec.output.path;
  o.layout = spec.output.layout;
  o.ensemble_dim = spec.output.ensemble_dim;
  o.variables = spec.output.variables;
  o.compression = spec.output.compression;
  o.lat = input.lat;
  o.lon = input.lon;
  o.levels = config.task.pressure_levels;
  o.init_time_s = init_time_s;
  for (int64_t s = 1; s <= spec.forecast.steps; ++s) o.lead_hours.push_back(s * kHoursPerStep);
  o.member_ids = spec.forecast.member_ids;
  o.channels = target_channels(config.task);
  o.model_description = config.description;
  o.model_license = config.license;
  o.run_spec_yaml = to_yaml(spec);
  o.spec_file = spec.source;
  return o;
}

std::vector<std::string> target_names(const TaskConfig& task) { return task.target_variables; }

// Refuses a run whose estimated device memory exceeds what the device has free.
void check_memory(const Backend& backend, const MemoryEstimate& estimate, ProblemList& problems) {
  const auto free_bytes = static_cast<double>(backend.free_memory_bytes());
  if (free_bytes > 0 && static_cast<double>(estimate.total()) > free_bytes)
    problems.add("", "runtime.device",
                 "at most " + format_bytes(free_bytes) + " of memory (free on " +
                     backend.device_name() + ")",
                 "an estimated " + format_bytes(static_cast<double>(estimate.total())) +
                     " for this run",
                 "use --precision bf16, a coarser grid, or a device with more memory");
}

}  // namespace

RunCheck check_run(const RunSpec& spec) {
  RunCheck check;
  ProblemList problems;
  auto& plan = check.plan;
  plan.emplace_back("spec", spec.source);
  check_spec_paths(spec, problems);
  if (!problems.empty()) {
    check.problems = problems.problems();
    return check;
  }

  // Checkpoint (configs and parameter shapes, no parameter data).
  const CheckpointSummary ck = summarize_checkpoint(spec.model.checkpoint,
                                                    attention_mode_name(spec.model.attention));
  for (const auto& p : ck.problems) problems.add(p);
  const ModelConfig& config = ck.config;
  const std::string first_line = config.description.substr(0, config.description.find('\n'));
  plan.emplace_back("model", first_line);
  plan.emplace_back("checkpoint", spec.model.checkpoint + " (" + std::to_string(ck.values) +
                                      " parameters in " + std::to_string(ck.arrays) + " arrays)");
  if (ck.attention) {
    plan.emplace_back("attention", ck.attention->description);
    plan.emplace_back("GPU patch", ck.attention->patched ? ck.attention->patch_line
                                                         : "none needed");
  }
  SamplerConfig sampler;
  problems.collect([&] {
    sampler = merge_sampler_config(config.sampler, spec);
    const SamplerSchedule schedule = make_schedule(sampler, spec.source);
    plan.emplace_back("sampler", std::to_string(schedule.steps()) + " noise levels, " +
                                     std::to_string(denoiser_calls_per_step(schedule)) +
                                     " denoiser calls per 12 h step, churn " +
                                     std::to_string(sampler.stochastic_churn_rate));
  });

  problems.collect([&] { check_stats(spec.model.stats_dir, config.task, problems); });
  const std::string init = init_time_text(spec);
  const size_t before_input = problems.size();
  problems.collect([&] { check_input_dataset(spec.input.path, config.task, init, problems); });
  int64_t n_lat = 0, n_lon = 0;
  if (problems.size() == before_input) {
    problems.collect([&] {
      const InputDataset input = read_input_dataset(spec.input.path, config.task, init);
      n_lat = input.n_lat();
      n_lon = input.n_lon();
      plan.emplace_back("input", spec.input.path + " (" + std::to_string(n_lat) + " x " +
                                     std::to_string(n_lon) + " grid)");
      plan.emplace_back("init time", format_iso_time(input.times_s.back()));
      ForecastOutputSpec out = output_spec(spec, config, input, input.times_s.back());
      check_sink_options(spec.output.format, out, target_names(config.task), problems);
    });
  }
  plan.emplace_back("forecast", std::to_string(spec.forecast.steps) + " steps of 12 h (" +
                                    std::to_string(spec.forecast.lead_time_hours()) + " h), " +
                                    std::to_string(spec.forecast.member_ids.size()) +
                                    " members, seed " + std::to_string(spec.forecast.seed));
  plan.emplace_back("output", spec.output.path + " (" + output_layout_name(spec.output.layout) +
                                  " layout, zlib " + std::to_string(spec.output.compression) + ")");

  // Device: exists, and the run fits in its free memory.
  problems.collect([&] {
    std::unique_ptr<Backend> backend = make_backend(spec.runtime.device, spec.model.precision);
    plan.emplace_back("device", backend->name() + " (" + backend->device_name() + "), " +
                                    precision_name(spec.model.precision));
    if (n_lat > 0) {
      const MemoryEstimate est =
          estimate_forecast_memory(config, n_lat, n_lon, spec.model.precision, kChunkRows);
      const auto free_bytes = static_cast<double>(backend->free_memory_bytes());
      const bool cache = edge_cache_enabled(spec.runtime.edge_cache, est.edge_cache,
                                            backend->free_memory_bytes());
      plan.emplace_back("memory", "about " + format_bytes(static_cast<double>(est.total())) +
                                      " needed, plus " +
                                      format_bytes(static_cast<double>(est.edge_cache)) +
                                      " for the edge cache (" + edge_cache_name(spec.runtime.edge_cache) + ": " +
                                      (cache ? "on" : "off") + "); " + format_bytes(free_bytes) +
                                      " free");
      check_memory(*backend, est, problems);
    }
  });
  check.problems = problems.problems();
  return check;
}

ForecastResult run_forecast(const RunSpec& spec, const std::string& command_line) {
  install_interrupt_handlers();
  const auto t0 = std::chrono::steady_clock::now();
  Checkpoint checkpoint = load_checkpoint(spec.model.checkpoint);
  const ModelConfig config = checkpoint.config;
  const TaskConfig& task = config.task;
  const SamplerConfig sampler = merge_sampler_config(config.sampler, spec);
  const SamplerSchedule schedule = make_schedule(sampler, spec.source);
  const NormalizationStats stats = read_stats(spec.model.stats_dir, task);
  const InputGrid grid = read_input_grid(spec.input.path);
  const auto n_lat = static_cast<int64_t>(grid.lat.size());
  const auto n_lon = static_cast<int64_t>(grid.lon.size());
  // The device, the graph and the denoiser need only the grid: they are set
  // up on a second thread while this one reads the input fields (seconds at
  // 0.25°). All netCDF calls stay on this thread (the library is not
  // thread-safe, and HDF5 reports per thread).
  struct DeviceSetup {
    std::unique_ptr<Backend> backend;  // declared first: destroyed last
    std::unique_ptr<PreparedModel> model;
    std::unique_ptr<Denoiser> denoiser;
    std::unique_ptr<NoisePlan> noise_plan;
  };
  auto pending_setup = std::async(std::launch::async, [&] {
    DeviceSetup d;
    d.backend = make_backend(spec.runtime.device, spec.model.precision);
    ProblemList problems;
    check_memory(*d.backend,
                 estimate_forecast_memory(config, n_lat, n_lon, spec.model.precision, kChunkRows),
                 problems);
    problems.throw_if_any();
    spdlog::info("device {} ({}), precision {}", d.backend->name(), d.backend->device_name(),
                 precision_name(spec.model.precision));
    d.model = std::make_unique<PreparedModel>(prepare_model(
        std::move(checkpoint), attention_mode_name(spec.model.attention), grid.lat, grid.lon));
    d.denoiser = d.model->make_denoiser(*d.backend, kChunkRows, spec.runtime.edge_cache);
    d.noise_plan = d.backend->plan_noise(n_lat, n_lon);
    return d;
  });
  const InputDataset initial = read_input_dataset(spec.input.path, task, init_time_text(spec));
  DeviceSetup setup = pending_setup.get();  // rethrows the setup's errors
  Backend* const backend = setup.backend.get();
  Denoiser* const denoiser = setup.denoiser.get();
  const NoisePlan* const noise_plan = setup.noise_plan.get();
  const int64_t init_time_s = initial.times_s.back();
  spdlog::info("input {}: {} x {} grid, init {}", spec.input.path, initial.n_lat(),
               initial.n_lon(), format_iso_time(init_time_s));
  ForecastOutputSpec out_spec = output_spec(spec, config, initial, init_time_s);
  out_spec.command_line = command_line;
  {
    ProblemList problems;
    check_sink_options(spec.output.format, out_spec, target_names(task), problems);
    problems.throw_if_any();
  }
  AsyncForecastWriter writer(make_forecast_sink(spec.output.format, out_spec));
  spdlog::info("{} members x {} steps, {} denoiser calls per step; writing {}",
               spec.forecast.member_ids.size(), spec.forecast.steps,
               denoiser_calls_per_step(schedule), spec.output.path);

  const int64_t G = initial.n_grid();
  const std::vector<ChannelSlot> channels = target_channels(task);
  const auto C = static_cast<int64_t>(channels.size());
  Tensor x = backend->empty({G, C}, DType::f32);
  ArrayF normalized({G, C});
  const DenoiseFn denoise = [&](float sigma, const Tensor& in, Tensor& out) {
    throw_if_interrupted();
    denoiser->denoise(sigma, in, out);
  };
  const auto inflation = static_cast<float>(sampler.noise_level_inflation_factor);
  ForecastProgress progress(static_cast<int64_t>(spec.forecast.member_ids.size()),
                            spec.forecast.steps);
  ForecastResult result;
  StepConditioning cond;  // reused across steps and members
  InputDataset frames;     // reset per member, reusing its storage (no page faults)
  using Clock = std::chrono::steady_clock;
  for (size_t mi = 0; mi < spec.forecast.member_ids.size(); ++mi) {
    const int64_t member = spec.forecast.member_ids[mi];
    const NoiseFn noise = make_backend_noise(*backend, *noise_plan, spec.forecast.seed,
                                             static_cast<uint32_t>(member), C);
    assign_frames(frames, initial);
    for (int64_t step = 0; step < spec.forecast.steps; ++step) {
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
      const int64_t init_index = static_cast<int64_t>(frames.times_s.size()) - 1;
      const int64_t target_time = frames.times_s.back() + kHoursPerStep * 3600;
      prepare_step_into(cond, frames, init_index, target_time, stats, task);
      const double prepare_ms = lap_ms();
      denoiser->set_conditioning(cond.features);
      const double conditioning_ms = lap_ms();
      run_sampler_step(*backend, schedule, inflation, static_cast<int>(step), denoise, noise, x);
      backend->synchronize();  // so that the download below times the transfer alone
      const double sampler_ms = lap_ms();
      backend->download(x, normalized.ptr());
      const double download_ms = lap_ms();
      ArrayF physical = writer.take_buffer({G, C});
      // A diverged model shows up as non-finite values; fail loudly instead of
      // writing them (SST is NaN over land by design and is not counted).
      const int64_t bad = targets_to_physical(normalized.ptr(), cond, stats, task, physical.ptr());
      if (bad > 0)
        throw RuntimeFailure("step " + std::to_string(step + 1) + " produced " +
                             std::to_string(bad) +
                             " non-finite values outside the SST land mask (the model "
                             "diverged); no output file was written");
      const double physical_ms = lap_ms();
      if (step + 1 < spec.forecast.steps)
        advance_frames_in_place(frames, physical.ptr(), target_time, task);
      const double advance_ms = lap_ms();
      writer.write_step(static_cast<int>(mi), static_cast<int>(step), std::move(physical));
      spdlog::debug(
          "member {} step {}: prepare {:.0f} ms, set_conditioning {:.0f} ms, sampler {:.0f} ms, "
          "download {:.0f} ms, to physical + check {:.0f} ms, advance {:.0f} ms, queue write "
          "{:.0f} ms",
          member, step + 1, prepare_ms, conditioning_ms, sampler_ms, download_ms, physical_ms,
          advance_ms, lap_ms());
      progress.step_done(static_cast<int64_t>(mi), member, step,
                         std::chrono::duration<double>(Clock::now() - ts).count());
      ++result.member_steps;
      throw_if_interrupted();
    }
  }
  writer.close();
  result.output_path = spec.output.path;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("wrote {} ({} member-steps in {})", result.output_path, result.member_steps,
               format_duration(result.seconds));
  return result;
}

}  // namespace gencast
