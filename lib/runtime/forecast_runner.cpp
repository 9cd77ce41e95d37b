#include "runtime/forecast_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>

#include "core/text.h"
#include "core/version.h"
#include "data/normalization.h"
#include "devices/device_factory.h"
#include "io/checkpoint_reader.h"
#include "io/initial_conditions.h"
#include "io/stats.h"
#include "model/checkpoint.h"
#include "runtime/async_writer.h"
#include "runtime/device_choice.h"
#include "runtime/input_probes.h"
#include "runtime/interrupt.h"
#include "runtime/member_scheduler.h"
#include "runtime/member_worker.h"
#include "runtime/memory_plan.h"
#include "runtime/model_setup.h"
#include "runtime/output_session.h"
#include "runtime/output_sinks.h"
#include "runtime/plot_maps.h"
#include "runtime/progress.h"
#include "runtime/run_fingerprint.h"
#include "sampler/dpm_solver.h"
#include "sampler/schedule.h"
#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"

namespace gencast {
namespace {


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
  o.grib_packing = spec.output.grib_packing;
  o.keep_bits = spec.output.keep_bits;
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

// The output line of check-config: the format and the options that apply to it.
std::string output_description(const OutputSection& o) {
  if (o.format == OutputFormat::grib)
    return std::string("GRIB2, ") +
           (o.grib_packing == GribPacking::ieee
                ? "32-bit IEEE packing (exact)"
                : "simple packing, " + std::to_string(kGribSimpleBitsPerValue) + " bits per value") +
           "; layout, ensemble_dim and compression apply to NetCDF only";
  return std::string("NetCDF, ") + output_layout_name(o.layout) + " layout, zlib " +
         std::to_string(o.compression);
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
  // The NetCDF files are checked in child processes (a corrupt file may crash
  // the library), running while the checkpoint is read.
  RunInputProbes probes(spec);
  plan.emplace_back("file probe", probes.enabled() ? "statistics and input checked in a child "
                                                     "process first"
                                                   : "off (runtime.probe_inputs: false)");

  // Checkpoint (configs and parameter shapes, no parameter data).
  // Values too: NaN/inf weights would otherwise pass here and fail the forecast.
  const CheckpointSummary ck = summarize_checkpoint(
      spec.model.checkpoint, attention_mode_name(spec.model.attention), /*check_values=*/true);
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
  // Sizes from an invalid config (already reported) may be absurd: nothing
  // below builds a schedule or a memory plan from them.
  const bool config_valid = ck.schema_checked;
  SamplerConfig sampler;
  int64_t calls_per_step = 0;
  if (config_valid) {
    problems.collect([&] {
      sampler = merge_sampler_config(config.sampler, spec);
      const SamplerSchedule schedule = make_schedule(sampler, spec.source);
      calls_per_step = denoiser_calls_per_step(schedule);
      plan.emplace_back("sampler", std::to_string(schedule.steps()) + " noise levels, " +
                                       std::to_string(denoiser_calls_per_step(schedule)) +
                                       " denoiser calls per 12 h step, churn " +
                                       std::to_string(sampler.stochastic_churn_rate));
    });
  }

  if (probes.enabled()) probes.wait_stats(problems);
  else problems.collect([&] { check_stats(spec.model.stats_dir, config.task, problems); });
  const std::string init = init_time_text(spec);
  const size_t before_input = problems.size();
  if (probes.enabled()) probes.wait_input(problems);
  else problems.collect([&] { check_initial_conditions(spec.input.paths(), config.task, init, problems); });
  int64_t n_lat = 0, n_lon = 0;
  if (problems.size() == before_input) {
    problems.collect([&] {
      const InputDataset input = read_initial_conditions(spec.input.paths(), config.task, init);
      n_lat = input.n_lat();
      n_lon = input.n_lon();
      plan.emplace_back("input", input.path + " (" + std::to_string(n_lat) + " x " +
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
  plan.emplace_back("output", spec.output.path + " (" + output_description(spec.output) + ")");
  check_output_session(spec, problems, plan);

  // Devices: each exists, and its workers fit in its free memory.
  problems.collect([&] {
    const std::vector<std::string> devices =
        choose_run_devices(spec, n_lat, n_lon, calls_per_step, problems);
    if (const std::string note = auto_device_note(spec, devices); !note.empty())
      plan.emplace_back("auto device", note);
    std::vector<std::pair<std::string, int>> workers_per_device;  // in first-listed order
    for (const auto& d : devices) {
      auto it = std::find_if(workers_per_device.begin(), workers_per_device.end(),
                             [&](const auto& w) { return w.first == d; });
      if (it == workers_per_device.end()) workers_per_device.emplace_back(d, 1);
      else ++it->second;
    }
    if (devices.size() > 1)
      plan.emplace_back("workers", std::to_string(devices.size()) + " (" + join(devices, ", ") +
                                       "); each takes the next member when it finishes one");
    const int64_t useful =
        members_per_worker(static_cast<int64_t>(spec.forecast.member_ids.size()),
                           static_cast<int64_t>(devices.size()));
    int64_t batch = spec.runtime.batch;  // auto: resolved on the first device, as the run does
    for (const auto& [device, workers] : workers_per_device) {
      std::unique_ptr<Backend> backend = make_backend(device, spec.model.precision);
      plan.emplace_back("device", backend->name() + " (" + backend->device_name() + "), " +
                                      precision_name(spec.model.precision) +
                                      (workers > 1 ? ", " + std::to_string(workers) + " workers"
                                                   : std::string()));
      if (n_lat <= 0 || !config_valid) continue;
      const MemoryEstimate one =
          estimate_forecast_memory(config, n_lat, n_lon, spec.model.precision, kDefaultChunkRows);
      if (batch == kBatchAuto) {
        batch = resolve_batch(batch, one, spec.runtime.edge_cache, *backend, useful);
        plan.emplace_back("batch", std::to_string(batch) +
                                       " member(s) per denoiser call (auto, from the free "
                                       "memory of " + backend->name() + ")");
      } else if (device == workers_per_device.front().first) {
        plan.emplace_back("batch", std::to_string(batch) + " member(s) per denoiser call");
      }
      const MemoryEstimate est = scale_for_batch(one, batch);  // one worker
      const MemoryEstimate device_est = scale_for_workers(est, workers);
      const auto free_bytes = static_cast<double>(backend->free_memory_bytes());
      const bool cache = edge_cache_enabled(spec.runtime.edge_cache, est.edge_cache,
                                            backend->free_memory_bytes());
      plan.emplace_back("memory", backend->name() + ": about " +
                                      format_bytes(static_cast<double>(device_est.total())) +
                                      " needed, plus " +
                                      format_bytes(static_cast<double>(device_est.edge_cache)) +
                                      " for the edge cache (" +
                                      edge_cache_name(spec.runtime.edge_cache) + ": " +
                                      (cache ? "on" : "off") + "); " + format_bytes(free_bytes) +
                                      " free");
      check_device_memory(*backend, device_est, problems);
    }
  });
  check.problems = problems.problems();
  return check;
}

ForecastResult run_forecast(const RunSpec& spec, const std::string& command_line) {
  install_interrupt_handlers();
  {
    // Inputs present, output folder there, no existing output unless asked:
    // refused before the checkpoint is even read.
    ProblemList problems;
    check_spec_paths(spec, problems);
    if (problems.empty()) check_sink_path(spec.output.format, spec.output.path, problems);
    problems.throw_if_any();
  }
  // The output's lock and what an interrupted run left, before any work.
  OutputSession session(spec);
  const auto t0 = std::chrono::steady_clock::now();
  // The NetCDF files are checked in child processes before this process
  // reads them (a corrupt file may crash the library).
  {
    RunInputProbes probes(spec);
    if (probes.enabled()) {
      ProblemList problems;
      probes.wait_stats(problems);
      probes.wait_input(problems);
      problems.throw_if_any();
    }
  }
  const InputGrid grid = read_initial_grid(spec.input.paths());
  const auto n_lat = static_cast<int64_t>(grid.lat.size());
  const auto n_lon = static_cast<int64_t>(grid.lon.size());
  // runtime.device auto is decided (and a CPU fallback at 1 degree or finer
  // refused) from the checkpoint's configs alone, before its weights load.
  std::vector<std::string> devices;
  {
    const ModelConfig peek = read_model_config(NpzReader(spec.model.checkpoint));
    const SamplerConfig peek_sampler = merge_sampler_config(peek.sampler, spec);
    ProblemList problems;
    devices = choose_run_devices(spec, n_lat, n_lon,
                                 denoiser_calls_per_step(make_schedule(peek_sampler, spec.source)),
                                 problems);
    problems.throw_if_any();
    if (const std::string note = auto_device_note(spec, devices); !note.empty())
      spdlog::info("device auto: {}", note);
  }
  Checkpoint checkpoint = load_checkpoint(spec.model.checkpoint);
  const ModelConfig config = checkpoint.config;
  const TaskConfig& task = config.task;
  const SamplerConfig sampler = merge_sampler_config(config.sampler, spec);
  const NormalizationStats stats = read_stats(spec.model.stats_dir, task);
  // The graph and one worker per device (backend, denoiser, noise plan) need
  // only the grid: they are set up on a second thread while this one reads
  // the input fields (seconds at 0.25°). All netCDF calls stay on this thread
  // (the library is not thread-safe, and HDF5 reports per thread).
  struct DeviceSetup {
    std::unique_ptr<PreparedModel> model;  // the graph, shared by every worker
    std::vector<std::unique_ptr<MemberWorker>> workers;
  };
  auto pending_setup = std::async(std::launch::async, [&] {
    DeviceSetup d;
    d.model = std::make_unique<PreparedModel>(prepare_model(
        std::move(checkpoint), attention_mode_name(spec.model.attention), grid.lat, grid.lon));
    // The first worker resolves batch auto; the others take its batch, so
    // that the members' grouping (and so their values) does not depend on
    // the number of devices.
    const int64_t useful =
        members_per_worker(static_cast<int64_t>(spec.forecast.member_ids.size()),
                           static_cast<int64_t>(devices.size()));
    int64_t batch = spec.runtime.batch;
    for (const std::string& device : devices) {
      d.workers.push_back(std::make_unique<MemberWorker>(device, spec.model.precision, *d.model,
                                                         spec.runtime.edge_cache, n_lat, n_lon,
                                                         batch, useful));
      batch = d.workers.front()->batch();
    }
    return d;
  });
  const InputDataset initial = read_initial_conditions(spec.input.paths(), task, init_time_text(spec));
  // The first step's host preparation (≈ 0.8 s at 0.25°), once for every
  // group, while the workers may still be setting up.
  const FirstStepInputs first_step = prepare_first_step(task, stats, initial);
  DeviceSetup setup = pending_setup.get();  // rethrows the setup's errors
  const int64_t init_time_s = initial.times_s.back();
  spdlog::info("input {}: {} x {} grid, init {}", initial.path, initial.n_lat(),
               initial.n_lon(), format_iso_time(init_time_s));
  ForecastOutputSpec out_spec = output_spec(spec, config, initial, init_time_s);
  out_spec.command_line = command_line;
  const RunFingerprint fingerprint = make_run_fingerprint(
      spec, sampler, setup.workers.front()->batch(), file_digest(spec.model.checkpoint),
      stats_digest(stats), input_digest(initial), init_time_s);
  out_spec.run_fingerprint = fingerprint.digest();
  out_spec.run_identity = fingerprint.text();
  {
    ProblemList problems;
    check_sink_options(spec.output.format, out_spec, target_names(task), problems);
    problems.throw_if_any();
  }
  if (session.output_already_complete(fingerprint)) {
    ForecastResult done;
    done.output_path = spec.output.path;
    return done;
  }
  const int64_t batch = setup.workers.front()->batch();
  const ResumePoint resume = session.load_resume_point(out_spec, fingerprint, batch, task);
  AsyncForecastWriter writer(
      session.open_sink(spec.output.format, out_spec, fingerprint, resume, batch));

  EnsembleRun run;
  run.config = &config;
  run.stats = &stats;
  run.initial = &initial;
  run.schedule = make_schedule(sampler, spec.source);
  run.noise_inflation = static_cast<float>(sampler.noise_level_inflation_factor);
  run.seed = spec.forecast.seed;
  run.steps = spec.forecast.steps;
  run.member_ids = spec.forecast.member_ids;
  run.first_step = &first_step;
  const auto members = static_cast<int64_t>(run.member_ids.size());
  // Members run in fixed groups of `batch` (member indices [g*batch, ...)),
  // one denoiser call per group: which worker takes a group never matters.
  const int64_t groups = (members + batch - 1) / batch;
  spdlog::info("{} members x {} steps on {} worker(s), {} member(s) per call, {} denoiser calls "
               "per step; writing {}",
               members, run.steps, setup.workers.size(), batch,
               denoiser_calls_per_step(run.schedule), spec.output.path);

  ForecastProgress progress(members, run.steps, resume.saved());
  std::vector<std::vector<int64_t>> ran;
  try {
    ran = schedule_members(
        static_cast<int>(setup.workers.size()), groups,
        [&](int w, int64_t group, const std::atomic<bool>& stop) {
          std::vector<int64_t> indices;
          for (int64_t m = group * batch; m < std::min(members, (group + 1) * batch); ++m)
            indices.push_back(m);
          setup.workers[static_cast<size_t>(w)]->run_members(run, indices, writer, progress, stop,
                                                             &resume);
        });
  } catch (const Interrupted& interrupted) {
    // The steps computed are written and, for a resumable output, kept.
    throw RuntimeFailure(session.suspend(writer, interrupted));
  }
  for (size_t w = 0; w < ran.size() && setup.workers.size() > 1; ++w)
    spdlog::info("{} ran {} group(s) of up to {} member(s)", setup.workers[w]->label(),
                 ran[w].size(), batch);
  writer.close();
  ForecastResult result;
  result.member_steps = members * run.steps - resume.saved();
  result.output_path = spec.output.path;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("wrote {} ({} member-steps in {})", result.output_path, result.member_steps,
               format_duration(result.seconds));
  if (spec.output.plot) {
    PlotOptions plot;
    plot.forecast = spec.output.path;
    const PlotResult map = plot_forecast(plot);
    spdlog::info("wrote {} ({}{}, lead {} h, member {})", map.path, map.variable,
                 map.level ? " at " + std::to_string(*map.level) + " hPa" : std::string(),
                 map.lead_hours, map.member);
    result.plot_path = map.path;
  }
  return result;
}

}  // namespace gencast
