#include "runtime/bench.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "config/stacking.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/stopwatch.h"
#include "core/text.h"
#include "devices/device_factory.h"
#include "model/checkpoint.h"
#include "model/param_schema.h"
#include "model/random_checkpoint.h"
#include "runtime/memory_plan.h"
#include "runtime/model_setup.h"
#include "sampler/backend_noise.h"
#include "sampler/dpm_solver.h"
#include "sampler/schedule.h"

namespace gencast {
namespace {

}  // namespace

void bench_grid(const std::string& name, std::vector<float>& lat, std::vector<float>& lon) {
  int64_t n_lat = 0;
  if (name == "1p0") n_lat = 181;
  else if (name == "0p25") n_lat = 721;
  else if (name == "4p0") n_lat = 46;
  else fail_input("command line", "--grid", "1p0, 0p25 or 4p0", "'" + name + "'");
  const int64_t n_lon = 2 * (n_lat - 1);
  const double step = 180.0 / static_cast<double>(n_lat - 1);
  for (int64_t i = 0; i < n_lat; ++i) lat.push_back(static_cast<float>(-90.0 + step * static_cast<double>(i)));
  for (int64_t i = 0; i < n_lon; ++i) lon.push_back(static_cast<float>(step * static_cast<double>(i)));
}

namespace {

std::string default_grid(const ModelConfig& config) {
  if (config.denoiser.mesh_size >= 6) return "0p25";
  if (config.denoiser.mesh_size <= 3) return "4p0";
  return "1p0";
}

ArrayF random_normal(Shape shape, uint64_t seed, float scale) {
  ArrayF a(std::move(shape));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  for (float& v : a.data) v = dist(rng);
  return a;
}

}  // namespace

double process_uptime_seconds() {
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Field 22 (starttime, in clock ticks since boot) comes after the ")" of comm.
  const auto close = content.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(content.substr(close + 2));
  std::string field;
  for (int i = 3; i < 22 && rest >> field; ++i) {
  }
  unsigned long long start_ticks = 0;
  rest >> start_ticks;
  std::ifstream uptime_file("/proc/uptime");
  double uptime = 0;
  uptime_file >> uptime;
  return uptime - static_cast<double>(start_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

BenchResult run_bench(const BenchOptions& options) {
  BenchResult r;
  Checkpoint checkpoint;
  const bool is_file = options.model.size() > 4 &&
                       options.model.compare(options.model.size() - 4, 4, ".npz") == 0;
  if (is_file) {
    checkpoint = load_checkpoint(options.model);
  } else {
    checkpoint.config = official_model_config(options.model);
    checkpoint.params = random_params(checkpoint.config, options.seed);
    checkpoint.path = "random weights (" + options.model + ")";
  }
  r.model = options.model;
  r.grid = options.grid.empty() ? default_grid(checkpoint.config) : options.grid;
  r.parameters = checkpoint.params.total_values();
  std::vector<float> lat, lon;
  bench_grid(r.grid, lat, lon);

  const PreparedModel model = prepare_model(std::move(checkpoint), options.attention, lat, lon);
  r.attention = attention_kind_name(model.attention.kind);
  r.graph = model.graph.timings;
  r.n_grid = model.graph.n_grid;
  r.n_mesh = model.graph.n_mesh;
  r.grid2mesh_edges = model.graph.grid2mesh.size();
  r.mesh2grid_edges = model.graph.mesh2grid.size();
  r.attention_pairs = model.graph.attention.nnz();
  r.precision = precision_name(options.precision);
  if (options.graph_only) {
    r.device = "host";
    r.peak_host_rss_bytes = peak_rss_bytes();
    return r;
  }

  std::unique_ptr<Backend> backend = make_backend(options.device, options.precision);
  r.device = backend->name();
  r.batch = options.batch;
  r.device_name = backend->device_name();
  const ModelConfig& config = model.checkpoint.config;
  auto denoiser = model.make_denoiser(*backend, options.chunk_rows, options.edge_cache,
                                     options.segment_split_edges, options.batch,
                                     options.fused_edges);
  r.edge_cache = denoiser->caches_edge_embeddings();
  r.gemm_tuning = gemm_tuning_enabled() && r.device != "cpu";
  const int64_t G = denoiser->n_grid(), T = denoiser->n_targets();
  denoiser->set_conditioning(random_normal({G, denoiser->n_conditioning()}, options.seed + 1, 1.f));
  Tensor x = backend->from_host(random_normal({G, T}, options.seed + 2, 1.f), DType::f32);
  Tensor out = backend->empty({G, T}, DType::f32);

  // First call (includes one-time costs: library handles, kernel loading).
  denoiser->denoise(10.f, x, out);
  backend->synchronize();
  r.first_call_seconds = process_uptime_seconds();
  r.flops_per_call = denoiser->flops_per_call();
  r.fused_edge_chunks = denoiser->fused_edge_chunks();
  r.edge_chunks = denoiser->edge_chunks();

  std::vector<double> times;
  for (int i = 0; i < options.calls; ++i) {
    Stopwatch call;
    denoiser->denoise(1.f + static_cast<float>(i), x, out);
    backend->synchronize();
    times.push_back(call.lap());
  }
  if (options.profile && options.calls > 0) {
    // Separate calls: the stage syncs distort the timed calls above otherwise.
    std::vector<std::pair<std::string, double>> totals;
    Stopwatch stage_clock;
    denoiser->set_stage_callback([&](const char* stage) {
      backend->synchronize();
      const double dt = stage_clock.lap();
      auto it = std::find_if(totals.begin(), totals.end(), [&](const auto& p) { return p.first == stage; });
      if (it == totals.end()) totals.emplace_back(stage, dt);
      else it->second += dt;
    });
    for (int i = 0; i < options.calls; ++i) {
      backend->synchronize();
      stage_clock = Stopwatch();
      denoiser->denoise(2.f, x, out);
    }
    denoiser->set_stage_callback({});
    for (auto& [stage, t] : totals) r.stage_seconds.emplace_back(stage, t / options.calls);
  }
  if (!times.empty()) {
    std::sort(times.begin(), times.end());
    r.call_seconds_median = times[times.size() / 2];
    r.call_seconds_min = times.front();
    r.tflops = r.flops_per_call / r.call_seconds_median / 1e12;
  }

  if (options.steps > 0) {
    const SamplerSchedule schedule = make_schedule(config.sampler);
    r.calls_per_step = denoiser_calls_per_step(schedule);
    auto plan = backend->plan_noise(static_cast<int64_t>(lat.size()), static_cast<int64_t>(lon.size()));
    std::vector<uint32_t> members;
    for (int64_t b = 0; b < options.batch; ++b) members.push_back(static_cast<uint32_t>(b));
    const NoiseFn noise =
        make_backend_noise(*backend, *plan, options.seed, members, T, G / options.batch);
    const DenoiseFn denoise = [&](float sigma, const Tensor& in, Tensor& o) {
      denoiser->denoise(sigma, in, o);
    };
    std::vector<double> step_times;
    for (int s = 0; s < options.steps; ++s) {
      Stopwatch step;
      run_sampler_step(*backend, schedule,
                       static_cast<float>(config.sampler.noise_level_inflation_factor), s, denoise,
                       noise, x);
      backend->synchronize();
      step_times.push_back(step.lap());
    }
    std::sort(step_times.begin(), step_times.end());
    r.step_seconds = step_times[step_times.size() / 2];
  }
  r.peak_device_bytes = static_cast<double>(backend->peak_memory_bytes());
  r.peak_host_rss_bytes = peak_rss_bytes();
  return r;
}

std::string bench_json(const BenchResult& r) {
  // Byte counts are whole numbers held in doubles; written as integers, as before.
  const auto bytes = [](double b) { return static_cast<int64_t>(std::llround(b)); };
  JsonWriter json;
  json.begin_object()
      .key("model").value(r.model)
      .key("grid").value(r.grid)
      .key("device").value(r.device)
      .key("device_name").value(r.device_name)
      .key("precision").value(r.precision)
      .key("attention").value(r.attention)
      .key("edge_cache").value(r.edge_cache)
      .key("gemm_tuning").value(r.gemm_tuning)
      .key("fused_edge_chunks").value(r.fused_edge_chunks)
      .key("edge_chunks").value(r.edge_chunks)
      .key("batch").value(r.batch)
      .key("parameters").value(r.parameters)
      .key("grid_nodes").value(r.n_grid)
      .key("mesh_nodes").value(r.n_mesh)
      .key("grid2mesh_edges").value(r.grid2mesh_edges)
      .key("mesh2grid_edges").value(r.mesh2grid_edges)
      .key("attention_pairs").value(r.attention_pairs)
      .key("graph_seconds").value(r.graph.total)
      .key("first_call_seconds").value(r.first_call_seconds)
      .key("call_seconds_median").value(r.call_seconds_median)
      .key("call_seconds_min").value(r.call_seconds_min)
      .key("step_seconds").value(r.step_seconds)
      .key("calls_per_step").value(r.calls_per_step)
      .key("flops_per_call").value(r.flops_per_call)
      .key("tflops").value(r.tflops)
      .key("peak_device_bytes").value(bytes(r.peak_device_bytes))
      .key("peak_host_rss_bytes").value(bytes(r.peak_host_rss_bytes))
      .end_object();
  return json.str();
}

std::string bench_table(const BenchResult& r) {
  std::ostringstream o;
  auto row = [&o](const char* key, const std::string& value) { o << table_row(key, value); };
  const auto num = format_number;
  row("model", r.model + " (" + std::to_string(r.parameters) + " parameters)");
  row("grid", r.grid + ": " + std::to_string(r.n_grid) + " grid nodes, " +
                  std::to_string(r.n_mesh) + " mesh nodes");
  row("edges", std::to_string(r.grid2mesh_edges) + " grid2mesh, " +
                   std::to_string(r.mesh2grid_edges) + " mesh2grid, " +
                   std::to_string(r.attention_pairs) + " attention pairs");
  row("graph build", num("%.2f s", r.graph.total) + " (mesh " + num("%.2f", r.graph.mesh) +
                         ", order " + num("%.2f", r.graph.order) + ", grid2mesh " +
                         num("%.2f", r.graph.grid2mesh) + ", mesh2grid " +
                         num("%.2f", r.graph.mesh2grid) + ", features " +
                         num("%.2f", r.graph.features) + ", attention " +
                         num("%.2f", r.graph.attention) + ")");
  if (r.device != "host") {
    row("device", r.device + " (" + r.device_name + "), " + r.precision + ", attention " +
                      r.attention + ", edge cache " + (r.edge_cache ? "on" : "off") +
                      ", GEMM tuning " + (r.gemm_tuning ? "on" : "off"));
    row("fused edge MLP", std::to_string(r.fused_edge_chunks) + " of " +
                              std::to_string(r.edge_chunks) + " edge chunks per call");
    row("launch to first call", num("%.2f s", r.first_call_seconds));
    row("denoiser call (median)", num("%.4f s", r.call_seconds_median) + " (min " +
                                      num("%.4f s", r.call_seconds_min) + ")");
    if (r.batch > 1)
      row("batch", std::to_string(r.batch) + " members per call: " +
                       num("%.4f s", r.call_seconds_median / static_cast<double>(r.batch)) +
                       " per member-call" +
                       (r.step_seconds > 0 ? ", " +
                                                 num("%.3f s", r.step_seconds /
                                                                   static_cast<double>(r.batch)) +
                                                 " per member-step"
                                           : std::string()));
    if (r.step_seconds > 0)
      row("12 h step", num("%.3f s", r.step_seconds) + " (" + std::to_string(r.calls_per_step) +
                           " denoiser calls)");
    row("FLOPs per call", num("%.3f TFLOP", r.flops_per_call / 1e12) + ", " +
                              num("%.1f TFLOP/s", r.tflops));
    row("peak device memory", format_bytes(r.peak_device_bytes));
    for (const auto& [stage, t] : r.stage_seconds)
      row(("  stage: " + stage).c_str(), num("%.2f ms per call", t * 1e3));
  }
  row("peak host RSS", format_bytes(r.peak_host_rss_bytes));
  return o.str();
}

}  // namespace gencast
