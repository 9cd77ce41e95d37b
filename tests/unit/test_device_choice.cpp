// runtime.device auto (runtime/device_choice.h, devices/device_factory.h):
// "auto" is the default and parses in specs and flags; it picks a GPU exactly
// when one is usable; falling back to the CPU it refuses grids of 1 degree or
// finer with the expected time and the flag that forces the CPU, and a GPU
// precision; an explicit cpu is never refused; the CPU time estimate scales
// as documented. A GPU that cannot be used is named plainly, on the CLI too.
#include <catch2/catch.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "config/device_name.h"
#include "core/parallel.h"
#include "devices/device_factory.h"
#include "runtime/device_choice.h"
#include "spec/run_spec.h"
#include "test_temp_dir.h"

using namespace gencast;
using namespace gencast::testing;

namespace {

RunSpec spec_on(const std::string& device) {
  RunSpec s;
  s.source = "spec.yaml";
  s.runtime.device = device;
  s.forecast.steps = 30;
  s.forecast.member_ids = {0, 1, 2, 3, 4, 5, 6, 7};
  return s;
}

std::string tiny(const std::string& name) {
  return std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/" + name;
}

}  // namespace

TEST_CASE("auto is the default device and a valid run device", "[device]") {
  CHECK(RunSpec{}.runtime.device == "auto");
  CHECK(canonical_run_device("auto") == "auto");
  CHECK(canonical_run_device("cuda") == "cuda:0");
  CHECK_FALSE(canonical_run_device("automatic").has_value());
  CHECK_FALSE(canonical_device("auto").has_value());  // not a backend name
}

TEST_CASE("auto picks a GPU exactly when one is usable", "[device]") {
  const std::string why = gpu_unavailable_reason();
  CHECK(why.empty() == (cuda_device_count() > 0));
  CHECK(expand_devices({"auto"}) == std::vector<std::string>{why.empty() ? "cuda:0" : "cpu"});
  if (!cuda_backend_built()) CHECK(why.find("no CUDA backend") != std::string::npos);
}

TEST_CASE("the CPU time estimate follows the documented model", "[device]") {
  const CpuRunEstimate one = estimate_cpu_run(181 * 360, 1, 1, 1, 1);
  CHECK(one.flops_per_call == Approx(2.13e12).epsilon(1e-9));
  CHECK(estimate_cpu_run(721 * 1440, 1, 1, 1, 1).flops_per_call == Approx(18.08e12).epsilon(1e-9));
  const CpuRunEstimate run = estimate_cpu_run(181 * 360, 8, 30, 39, 16);
  CHECK(run.calls == 8 * 30 * 39);
  CHECK(run.seconds == Approx(one.seconds * 8 * 30 * 39 / 16).epsilon(1e-12));
  // Between the two grids the cost grows, but less than the point count.
  const double mid = estimate_cpu_run(361 * 720, 1, 1, 1, 1).flops_per_call;
  CHECK(mid > 2.13e12);
  CHECK(mid < 2.13e12 * 4);
  CHECK(format_rough_duration(30) == "30 s");
  CHECK(format_rough_duration(3600 * 5.25) == "5.2 h");
  CHECK(format_rough_duration(86400 * 3) == "3.0 days");
}

TEST_CASE("auto falling back to the CPU refuses 1 degree, with the time and the way to force it",
          "[device]") {
  if (gpu_unavailable_reason().empty()) {
    std::cout << "GENCAST_SKIP: a GPU is usable here, so auto does not fall back to the CPU" << std::endl;
    return;
  }
  ProblemList problems;
  CHECK(choose_run_devices(spec_on("auto"), 181, 360, 39, problems) ==
        std::vector<std::string>{"cpu"});
  REQUIRE(problems.size() == 1);
  const Problem& p = problems.problems()[0];
  CHECK(p.field == "runtime.device");
  CHECK(p.found.find(gpu_unavailable_reason()) != std::string::npos);
  CHECK(p.hint.find("--device cpu") != std::string::npos);
  CHECK(p.hint.find("runtime.device: cpu") != std::string::npos);
  const CpuRunEstimate e = estimate_cpu_run(181 * 360, 8, 30, 39, parallel_worker_count());
  CHECK(p.hint.find(format_rough_duration(e.seconds)) != std::string::npos);

  SECTION("0.25 degrees too; a 4 degree grid and an explicit cpu are not refused") {
    ProblemList quarter;
    choose_run_devices(spec_on("auto"), 721, 1440, 39, quarter);
    CHECK(quarter.size() == 1);
    ProblemList coarse, forced;
    CHECK(choose_run_devices(spec_on("auto"), 46, 90, 39, coarse) ==
          std::vector<std::string>{"cpu"});
    CHECK(coarse.empty());
    CHECK(choose_run_devices(spec_on("cpu"), 721, 1440, 39, forced) ==
          std::vector<std::string>{"cpu"});
    CHECK(forced.empty());
  }
  SECTION("a GPU precision is refused with the reason") {
    RunSpec s = spec_on("auto");
    s.model.precision = Precision::bf16;
    ProblemList bf16;
    choose_run_devices(s, 46, 90, 39, bf16);
    REQUIRE(bf16.size() == 1);
    CHECK(bf16.problems()[0].field == "model.precision");
    CHECK(bf16.problems()[0].expected.find(gpu_unavailable_reason()) != std::string::npos);
  }
}

TEST_CASE("a GPU that cannot be used is named plainly on the command line", "[device][cli]") {
  if (gpu_unavailable_reason().empty()) {
    std::cout << "GENCAST_SKIP: a GPU is usable here" << std::endl;
    return;
  }
  TempDir dir;
  const std::string flags = " --checkpoint " + shell_quote(tiny("tiny_checkpoint.npz")) +
                            " --stats-dir " +
                            shell_quote(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny") +
                            " --input " + shell_quote(tiny("source_tiny.nc")) + " --steps 1 --output " + shell_quote(dir.file("x.nc"));
  const CliResult gpu = run_gencast("check-config" + flags + " --device cuda:0");
  INFO(gpu.all());
  CHECK(gpu.exit_code == 2);
  CHECK(gpu.err.find(gpu_unavailable_reason()) != std::string::npos);
  CHECK(gpu.err.find("--device cpu") != std::string::npos);
  CHECK(gpu.err.find("index < 0") == std::string::npos);

  // auto runs the tiny model on the CPU and says why.
  const CliResult autorun = run_gencast("check-config" + flags + " --device auto");
  INFO(autorun.all());
  CHECK(autorun.exit_code == 0);
  CHECK(autorun.out.find("no usable GPU") != std::string::npos);
}
