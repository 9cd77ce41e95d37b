// The devices a run uses, with `runtime.device: auto` (the default) decided:
// the first usable GPU, else the CPU -- except that auto never falls back to
// the CPU for a grid of 1 degree or finer, where a forecast takes hours to
// days there. That refusal names why no GPU is usable, the expected CPU time,
// and how to force the CPU (`--device cpu`, spec `runtime.device: cpu`; an
// explicit cpu is never refused).
//
// The expected time: denoiser calls x FLOPs per call / (a measured CPU rate
// per thread x the threads the run uses). FLOPs per call follow a power law
// through the counted FLOPs of the two official grids (2.13 TFLOP at 1
// degree, 18.08 TFLOP at 0.25 degrees; BENCHMARKS.md). The rate is
// kCpuFlopsPerThread, measured as described in device_choice.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "spec/run_spec.h"

namespace gencast {

// Grids with at least this many points (1 degree: 181 x 360) are refused
// when auto falls back to the CPU.
inline constexpr int64_t kAutoCpuRefusedGridPoints = int64_t{181} * 360;

struct CpuRunEstimate {
  double flops_per_call = 0;  // estimated, one member
  int64_t calls = 0;          // denoiser calls of the whole run
  int threads = 1;            // host threads the CPU backend uses
  double seconds = 0;         // expected run time on the CPU
};

// The expected CPU time of `members` x `steps` steps of `calls_per_step`
// denoiser calls on a grid of `grid_points`, on `threads` threads.
CpuRunEstimate estimate_cpu_run(int64_t grid_points, int64_t members, int64_t steps,
                                int64_t calls_per_step, int threads);

// "3.2 h", "45 min", "2.5 days": an estimated duration, for messages.
std::string format_rough_duration(double seconds);

// The run's worker devices (devices/ expand_devices). When runtime.device is
// auto and no GPU is usable, adds a problem (field runtime.device) for a grid
// of kAutoCpuRefusedGridPoints or more, and one for a GPU-only precision;
// either names the reason no GPU is usable. The CPU is still returned, so
// that check-config can go on describing the run.
std::vector<std::string> choose_run_devices(const RunSpec& spec, int64_t n_lat, int64_t n_lon,
                                            int64_t calls_per_step, ProblemList& problems);

// For the log and check-config: "cuda:0 (the first usable GPU)" or "cpu (no
// usable GPU: <reason>)" when runtime.device is auto; "" otherwise.
std::string auto_device_note(const RunSpec& spec, const std::vector<std::string>& devices);

}  // namespace gencast
