#include "runtime/verify.h"

#include <netcdf.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "core/error.h"
#include "data/normalization.h"
#include "devices/device_factory.h"
#include "io/netcdf_input.h"
#include "io/netcdf_util.h"
#include "io/npz.h"
#include "io/stats.h"
#include "model/checkpoint.h"
#include "runtime/fixture_reader.h"
#include "runtime/model_setup.h"
#include "sampler/dpm_solver.h"
#include "sampler/noise_draw.h"
#include "sampler/schedule.h"

namespace fs = std::filesystem;

namespace gencast {
namespace {

std::string base_name(const std::string& path) { return fs::path(path).filename().string(); }


struct Context {
  FixtureFolder folder;
  VerifyOptions options;
  std::unique_ptr<Backend> backend;
  PreparedModel model;
  NormalizationStats stats;
  std::vector<ChannelSlot> targets;
  VerifyReport* report = nullptr;
  VerifyProgress progress;

  void add(const std::string& case_name, const std::string& quantity, double error, bool sampler,
           std::string note = {}) {
    VerifyRow row;
    row.case_name = case_name;
    row.quantity = quantity;
    row.error = error;
    row.tolerance = verify_tolerance(backend->name(), options.precision, sampler);
    row.pass = std::isfinite(error) && error <= row.tolerance;
    row.note = std::move(note);
    if (progress) progress(row);
    report->rows.push_back(std::move(row));
  }

  // Per target variable: relative L2 of ours vs reference ([G, channels]
  // each; ours may hold `batch` members' rows stacked, each a copy of the same
  // case: the row reports the worst copy).
  void compare_targets(const std::string& case_name, const std::string& prefix, const ArrayF& ours,
                       const ArrayF& ref, bool sampler) {
    const auto C = targets.size();
    const auto G = static_cast<size_t>(ref.dim(0));
    const size_t copies = static_cast<size_t>(ours.dim(0)) / G;
    std::map<std::string, double> worst;
    for (size_t k = 0; k < copies; ++k) {
      std::map<std::string, std::pair<std::vector<float>, std::vector<float>>> by_var;
      for (size_t c = 0; c < C; ++c) {
        auto& [a, b] = by_var[targets[c].variable];
        for (size_t g = 0; g < G; ++g) {
          a.push_back(ours.data[(k * G + g) * C + c]);
          b.push_back(ref.data[g * C + c]);
        }
      }
      for (const auto& [name, ab] : by_var) {
        const double e = relative_l2(ab.first.data(), ab.second.data(), ab.first.size());
        auto [it, fresh] = worst.emplace(name, e);
        if (!fresh && !(it->second >= e)) it->second = e;  // NaN-safe: inf/NaN wins
      }
    }
    for (const auto& [name, e] : worst)
      add(case_name, prefix + name, e, sampler,
          copies > 1 ? "worst of " + std::to_string(copies) + " batched copies" : std::string());
  }
};

InputDataset read_frames(const Context& ctx, int init_frame) {
  const std::vector<int64_t> times = read_input_times(ctx.folder.source);
  if (init_frame < 0 || init_frame >= static_cast<int>(times.size()))
    fail_input(ctx.folder.source, "time", "a frame " + std::to_string(init_frame),
               std::to_string(times.size()) + " frames");
  return read_input_dataset(ctx.folder.source, ctx.model.checkpoint.config.task,
                            format_iso_time(times[static_cast<size_t>(init_frame)]));
}

float read_sigma(const std::string& file) {
  if (auto v = read_fixture_variable(file, "", "sigma"); v && !v->data.empty()) return v->data[0];
  NcFile nc = NcFile::open_read(file);
  if (auto a = nc_number_attr(nc.id(), NC_GLOBAL, "sigma")) return static_cast<float>(*a);
  fail_input(file, "sigma", "a 'sigma' variable or attribute", "none");
}

// Compares a [node, batch, channel] intermediate (rows = `nodes`) with ours.
void compare_intermediate(Context& ctx, const std::string& case_name, const std::string& file,
                          const std::string& name, const ArrayF& ours,
                          const std::vector<int64_t>& nodes) {
  auto ref = read_fixture_variable(file, "intermediates", name);
  if (!ref || ours.data.empty()) return;
  const int64_t width = ours.dim(1);
  std::vector<float> mine;
  for (int64_t n : nodes)
    mine.insert(mine.end(), ours.ptr() + n * width, ours.ptr() + (n + 1) * width);
  if (mine.size() != ref->data.size()) {
    ctx.add(case_name, "intermediates/" + name, std::numeric_limits<double>::infinity(), false,
            "shape mismatch");
    return;
  }
  ctx.add(case_name, "intermediates/" + name, relative_l2(mine.data(), ref->data.data(), mine.size()),
          false);
}

void run_denoise_case(Context& ctx, const std::string& file) {
  const std::string name = base_name(file);
  const int init = fixture_input_frames(file).second;
  const TaskConfig& task = ctx.model.checkpoint.config.task;
  InputDataset frames = read_frames(ctx, init);
  const int64_t init_index = static_cast<int64_t>(frames.times_s.size()) - 1;
  const int64_t target_time = frames.times_s.back() + 12 * 3600;
  const StepConditioning cond = prepare_step(frames, init_index, target_time, ctx.stats, task);
  const float sigma = read_sigma(file);
  const std::vector<int64_t> levels = ctx.model.checkpoint.config.task.pressure_levels;
  const ArrayF noisy = read_target_fields(file, "noisy_targets", ctx.targets, levels);
  const ArrayF denoised_ref = read_target_fields(file, "denoised", ctx.targets, levels);

  Backend& b = *ctx.backend;
  const int64_t B = ctx.options.batch;
  auto denoiser = ctx.model.make_denoiser(b, kDefaultChunkRows, ctx.options.edge_cache,
                                          DenoiserOptions{}.segment_split_edges, B,
                                          ctx.options.fused_edges);
  denoiser->set_conditioning(tile_rows(cond.features, B));
  Tensor x = b.from_host(tile_rows(noisy, B), DType::f32);
  Tensor out = b.empty({B * noisy.dim(0), noisy.dim(1)}, DType::f32);
  DenoiserTrace trace;
  denoiser->trace_next_call(&trace);
  denoiser->denoise(sigma, x, out);
  const ArrayF denoised = b.to_host(out);

  // Stage by stage first (the reference's intermediates), then the outputs.
  if (auto sub = read_fixture_variable(file, "intermediates", "grid_node_sub")) {
    std::vector<int64_t> nodes(sub->data.begin(), sub->data.end());
    std::vector<int64_t> all_mesh(static_cast<size_t>(ctx.model.graph.n_mesh));
    for (size_t i = 0; i < all_mesh.size(); ++i) all_mesh[i] = static_cast<int64_t>(i);
    const int64_t G = cond.n_grid;
    ArrayF features({G, ctx.model.layout.channels()});
    assemble_grid_features(ctx.model.layout, G, cond.features.ptr(), noisy.ptr(),
                           1.f / std::sqrt(sigma * sigma + 1.f), features.ptr());
    compare_intermediate(ctx, name, file, "grid_node_features_sub", features, nodes);
    if (auto enc = read_fixture_variable(file, "intermediates", "global_norm_conditioning")) {
      std::vector<float> mine(trace.noise_encoding.begin(), trace.noise_encoding.end());
      ctx.add(name, "intermediates/global_norm_conditioning",
              mine.size() == enc->data.size()
                  ? relative_l2(mine.data(), enc->data.data(), mine.size())
                  : std::numeric_limits<double>::infinity(),
              false);
    }
    compare_intermediate(ctx, name, file, "mesh_latent_after_grid2mesh",
                         trace.mesh_latent_after_grid2mesh, all_mesh);
    compare_intermediate(ctx, name, file, "grid_latent_after_grid2mesh_sub",
                         trace.grid_latent_after_grid2mesh, nodes);
    compare_intermediate(ctx, name, file, "mesh_latent_after_transformer",
                         trace.mesh_latent_after_transformer, all_mesh);
    compare_intermediate(ctx, name, file, "grid_output_sub", trace.grid_output, nodes);
  }
  ctx.compare_targets(name, "denoised/", denoised, denoised_ref, false);

  ArrayF physical(denoised.shape);
  const int64_t per_copy = noisy.numel();
  for (int64_t k = 0; k < B; ++k)
    targets_to_physical(denoised.ptr() + k * per_copy, cond, ctx.stats, task,
                        physical.ptr() + k * per_copy);
  const ArrayF post_ref = read_target_fields(file, "postprocessed", ctx.targets, levels);
  ctx.compare_targets(name, "postprocessed/", physical, post_ref, false);
}

// Sampler state recorder for the `states` group (step 0 only).
struct StateRecorder final : StepObserver {
  Backend* backend = nullptr;
  std::vector<ArrayF> states;
  void on_sampler_iteration(int, int, float, const Tensor& x) override {
    states.push_back(backend->to_host(x));
  }
};

void run_sampler_case(Context& ctx, const std::string& file) {
  const std::string name = base_name(file);
  const TaskConfig& task = ctx.model.checkpoint.config.task;
  const std::vector<int64_t> levels = ctx.model.checkpoint.config.task.pressure_levels;
  SamplerConfig sampler = ctx.model.checkpoint.config.sampler;
  auto churn_ref = read_fixture_variable(file, "", "per_step_churn_rate");
  if (!churn_ref) sampler.stochastic_churn_rate = 0;  // churn-off cases record no rates
  const SamplerSchedule schedule = make_schedule(sampler, ctx.folder.checkpoint);
  if (auto levels_ref = read_fixture_variable(file, "", "noise_levels"))
    ctx.add(name, "noise_levels",
            levels_ref->data.size() == schedule.sigmas.size()
                ? relative_l2(schedule.sigmas.data(), levels_ref->data.data(), schedule.sigmas.size())
                : std::numeric_limits<double>::infinity(),
            true);
  if (churn_ref)
    ctx.add(name, "per_step_churn_rate",
            churn_ref->data.size() == schedule.churn.size()
                ? relative_l2(schedule.churn.data(), churn_ref->data.data(), schedule.churn.size())
                : std::numeric_limits<double>::infinity(),
            true);

  // Recorded noise: draw d has (kind, draw_step); in rollout cases draw_step
  // is the rollout step, otherwise the sampler iteration.
  const bool rollout = !churn_ref;
  auto kinds = read_fixture_variable(file, "noise_used", "draw_kind");
  auto steps = read_fixture_variable(file, "noise_used", "draw_step");
  if (!kinds || !steps) fail_input(file, "noise_used", "draw_kind and draw_step", "missing");
  std::map<uint32_t, ArrayF> recorded;
  for (size_t d = 0; d < kinds->data.size(); ++d) {
    const int kind = static_cast<int>(kinds->data[d]);
    const int step = static_cast<int>(steps->data[d]);
    const uint32_t id = rollout ? noise_draw_id(step, kind, 0) : noise_draw_id(0, kind, step);
    recorded[id] = read_target_fields(file, "noise_used", ctx.targets, levels, 0,
                                      static_cast<int64_t>(d));
  }
  Backend& b = *ctx.backend;
  const NoiseFn noise = [&](uint32_t id, Tensor& out) {
    auto it = recorded.find(id);
    if (it == recorded.end())
      throw RuntimeFailure(file + ": the sampler asked for a noise draw the case did not record");
    // Every batched copy gets the recorded field (each copy replays the case).
    const int64_t rows = it->second.dim(0);
    for (int64_t k = 0; k * rows < out.rows(); ++k) {
      Tensor part = out.rows(k * rows, rows);
      b.upload(it->second.ptr(), part);
    }
  };

  const int64_t B = ctx.options.batch;
  auto denoiser = ctx.model.make_denoiser(b, kDefaultChunkRows, ctx.options.edge_cache,
                                          DenoiserOptions{}.segment_split_edges, B,
                                          ctx.options.fused_edges);
  const DenoiseFn denoise = [&](float sigma, const Tensor& x, Tensor& out) {
    denoiser->denoise(sigma, x, out);
  };
  const int init = fixture_input_frames(file).second;
  InputDataset frames = read_frames(ctx, init);
  auto pred = read_fixture_variable(file, "prediction", ctx.targets.front().variable);
  const auto time_dim = pred ? std::find(pred->dims.begin(), pred->dims.end(), "time") - pred->dims.begin() : 0;
  const int n_steps = pred && time_dim < static_cast<long>(pred->dims.size())
                          ? static_cast<int>(pred->sizes[static_cast<size_t>(time_dim)])
                          : 1;
  const int64_t G = frames.n_grid();
  const auto C = static_cast<int64_t>(ctx.targets.size());
  Tensor x = b.empty({B * G, C}, DType::f32);
  for (int step = 0; step < n_steps; ++step) {
    const int64_t init_index = static_cast<int64_t>(frames.times_s.size()) - 1;
    const int64_t target_time = frames.times_s.back() + 12 * 3600;
    const StepConditioning cond = prepare_step(frames, init_index, target_time, ctx.stats, task);
    denoiser->set_conditioning(tile_rows(cond.features, B));
    StateRecorder recorder;
    recorder.backend = &b;
    run_sampler_step(b, schedule, static_cast<float>(sampler.noise_level_inflation_factor), step,
                     denoise, noise, x, &recorder);
    const ArrayF normalized = b.to_host(x);
    ArrayF physical(normalized.shape);
    for (int64_t k = 0; k < B; ++k)
      targets_to_physical(normalized.ptr() + k * G * C, cond, ctx.stats, task,
                          physical.ptr() + k * G * C);
    const std::string prefix = "step " + std::to_string(step + 1) + " prediction/";
    ctx.compare_targets(name, prefix, physical,
                        read_target_fields(file, "prediction", ctx.targets, levels, step), true);

    if (step == 0) {  // the recorded sampler states, where present
      for (size_t c = 0; c < ctx.targets.size(); ++c) {
        const ChannelSlot& slot = ctx.targets[c];
        if (c > 0 && ctx.targets[c - 1].variable == slot.variable) continue;
        auto st = read_fixture_variable(file, "states", slot.variable);
        if (!st) continue;
        std::vector<size_t> cols;
        for (size_t k = 0; k < ctx.targets.size(); ++k)
          if (ctx.targets[k].variable == slot.variable) cols.push_back(k);
        const size_t per_state = st->data.size() / st->sizes.front();
        for (size_t it = 0; it < recorder.states.size() && it < st->sizes.front(); ++it) {
          // Reference layout per state: [batch, time, (level,) lat, lon].
          std::vector<float> mine(per_state);
          const size_t n_levels = cols.size();
          for (size_t l = 0; l < n_levels; ++l)
            for (int64_t g = 0; g < G; ++g)
              mine[l * static_cast<size_t>(G) + static_cast<size_t>(g)] =
                  recorder.states[it].data[static_cast<size_t>(g) * static_cast<size_t>(C) + cols[l]];
          ctx.add(name, "sampler state " + std::to_string(it + 1) + "/" + slot.variable,
                  relative_l2(mine.data(), st->data.data() + it * per_state, per_state), true);
        }
      }
    }
    // The rollout's own path (as in forecast): the prediction becomes the newest frame.
    if (step + 1 < n_steps) advance_frames_in_place(frames, physical.ptr(), target_time, task);
  }
}

}  // namespace

bool VerifyReport::all_pass() const { return failures() == 0 && !rows.empty(); }

int VerifyReport::failures() const {
  int n = 0;
  for (const auto& r : rows) n += r.pass ? 0 : 1;
  return n;
}

double verify_tolerance(const std::string& backend_name, Precision precision, bool sampler_case) {
  if (backend_name == "cpu") return sampler_case ? kCpuSamplerTolerance : kCpuCallTolerance;
  return precision_info(precision).gpu_tolerance;
}

double relative_l2(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool fa = std::isfinite(a[i]), fb = std::isfinite(b[i]);
    if (fa != fb) return std::numeric_limits<double>::infinity();
    if (!fb) continue;
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    num += d * d;
    den += static_cast<double>(b[i]) * static_cast<double>(b[i]);
  }
  if (den == 0) return num == 0 ? 0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

VerifyReport run_verify(const std::string& dir, const VerifyOptions& options,
                        const VerifyProgress& progress) {
  Context ctx;
  VerifyReport report;
  ctx.report = &report;
  ctx.progress = progress;
  ctx.options = options;
  ctx.folder = scan_fixture_folder(dir);
  ctx.backend = make_backend(options.device, options.precision);
  report.device = ctx.backend->name();
  report.device_name = ctx.backend->device_name();
  report.precision = precision_name(options.precision);

  Checkpoint checkpoint = load_checkpoint(ctx.folder.checkpoint);
  const TaskConfig task = checkpoint.config.task;
  ctx.stats = read_stats(dir, task);
  ctx.targets = target_channels(task);

  // The grid comes from the source file; the reference's stored mesh2grid
  // edges (ambiguous at exact ties) and mesh lat/lon are imposed when present.
  const std::vector<int64_t> times = read_input_times(ctx.folder.source);
  const InputDataset probe = read_input_dataset(ctx.folder.source, task, format_iso_time(times.back()));
  GraphBuildOptions graph = graph_options(checkpoint.config, ctx.folder.checkpoint);
  if (ctx.folder.graph) {
    NpzReader g(*ctx.folder.graph);
    graph.mesh2grid_override = std::make_pair(g.read_i32("mesh2grid_senders").data,
                                              g.read_i32("mesh2grid_receivers").data);
    if (g.contains("mesh_nodes_lat") && g.contains("mesh_nodes_lon"))
      graph.mesh_lat_lon_override =
          std::make_pair(g.read_f32("mesh_nodes_lat").data, g.read_f32("mesh_nodes_lon").data);
  }
  ctx.model = prepare_model(std::move(checkpoint), options.attention, probe.lat, probe.lon, &graph);

  for (const auto& file : ctx.folder.denoise_cases) run_denoise_case(ctx, file);
  for (const auto& file : ctx.folder.sampler_cases) run_sampler_case(ctx, file);
  return report;
}

}  // namespace gencast
