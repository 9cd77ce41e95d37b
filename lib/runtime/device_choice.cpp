// runtime.device auto and its CPU refusal (see device_choice.h).
#include "runtime/device_choice.h"

#include <cmath>
#include <cstdio>

#include "config/device_name.h"
#include "config/precision.h"
#include "core/parallel.h"
#include "devices/device_factory.h"

namespace gencast {
namespace {

// Counted FLOPs of one denoiser call on the official grids (BENCHMARKS.md,
// "FLOPs of one call"); other grids follow the power law through both.
constexpr double kGridPoints1p0 = 181.0 * 360.0;
constexpr double kFlops1p0 = 2.13e12;
constexpr double kGridPoints0p25 = 721.0 * 1440.0;
constexpr double kFlops0p25 = 18.08e12;

// The CPU backend's useful FLOP rate per thread, measured with
//   gencast-run bench --model mini --grid 4p0 --device cpu --steps 0 --calls 1|3
// (the official 512-wide layers; 0.370 TFLOP per call) as the difference of
// the two runs' CPU time (user + system, GNU time: 96.7 s and 200.4 s) over
// the 2 extra calls: 51.8 CPU-seconds per call on a 2-vCPU Intel Xeon VM,
// i.e. 7.1 GFLOP/s per thread. CPU time rather than wall time, so the figure
// does not depend on how busy the machine was; an estimate within about 2x.
constexpr double kCpuFlopsPerThread = 7.1e9;

}  // namespace

CpuRunEstimate estimate_cpu_run(int64_t grid_points, int64_t members, int64_t steps,
                                int64_t calls_per_step, int threads) {
  CpuRunEstimate e;
  const double exponent = std::log(kFlops0p25 / kFlops1p0) / std::log(kGridPoints0p25 / kGridPoints1p0);
  e.flops_per_call =
      kFlops1p0 * std::pow(static_cast<double>(grid_points) / kGridPoints1p0, exponent);
  e.calls = members * steps * calls_per_step;
  e.threads = std::max(1, threads);
  e.seconds = static_cast<double>(e.calls) * e.flops_per_call / (kCpuFlopsPerThread * e.threads);
  return e;
}

std::string format_rough_duration(double seconds) {
  char buf[48];
  if (seconds < 90) {
    std::snprintf(buf, sizeof buf, "%.0f s", seconds);
  } else if (seconds < 90 * 60) {
    std::snprintf(buf, sizeof buf, "%.0f min", seconds / 60);
  } else if (seconds < 48 * 3600) {
    std::snprintf(buf, sizeof buf, "%.1f h", seconds / 3600);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f days", seconds / 86400);
  }
  return buf;
}

std::vector<std::string> choose_run_devices(const RunSpec& spec, int64_t n_lat, int64_t n_lon,
                                            int64_t calls_per_step, ProblemList& problems) {
  const std::vector<std::string> requested = spec.runtime.worker_devices();
  std::vector<std::string> devices = expand_devices(requested);
  const bool auto_fell_back =
      requested.size() == 1 && requested[0] == kAutoDevice && devices == std::vector<std::string>{"cpu"};
  if (!auto_fell_back) return devices;
  const std::string why = gpu_unavailable_reason();
  if (precision_info(spec.model.precision).gpu_only)
    problems.add(spec.source, "model.precision",
                 "fp32: runtime.device auto chose the CPU, as no GPU is usable (" + why + ")",
                 precision_name(spec.model.precision),
                 "tf32 and bf16 need a GPU; pass --precision fp32 --device cpu to run on the CPU");
  const int64_t points = n_lat * n_lon;
  if (points >= kAutoCpuRefusedGridPoints) {
    const auto members = static_cast<int64_t>(spec.forecast.member_ids.size());
    const CpuRunEstimate e =
        estimate_cpu_run(points, members, spec.forecast.steps, calls_per_step, parallel_worker_count());
    char flops[32];
    std::snprintf(flops, sizeof flops, "%.1f", e.flops_per_call / 1e12);
    problems.add(spec.source, "runtime.device",
                 "a usable NVIDIA GPU for a " + std::to_string(n_lat) + " x " +
                     std::to_string(n_lon) + " grid (auto does not fall back to the CPU at "
                     "1 degree or finer)",
                 "none: " + why,
                 "on this CPU the run would take about " + format_rough_duration(e.seconds) + " (" +
                     std::to_string(e.calls) + " denoiser calls of ~" + flops + " TFLOP on " +
                     std::to_string(e.threads) +
                     " threads); pass --device cpu (spec: runtime.device: cpu) to run it there "
                     "anyway");
  }
  return devices;
}

std::string auto_device_note(const RunSpec& spec, const std::vector<std::string>& devices) {
  if (spec.runtime.worker_devices() != std::vector<std::string>{kAutoDevice} || devices.empty())
    return "";
  const std::string why = gpu_unavailable_reason();
  return devices.front() + (why.empty() ? " (the first usable GPU)" : " (no usable GPU: " + why + ")");
}

}  // namespace gencast
