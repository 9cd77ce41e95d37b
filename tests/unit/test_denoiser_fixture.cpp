// The denoiser, sampler and pre/post-processing on the CPU reference backend
// against the official JAX code's recorded outputs (tests/data/gencast_tiny).
// Tolerances (relative L2 per variable): 1e-5 for one denoiser call and its
// intermediates (float32 vs float32 with a different summation order), 1e-4
// for whole sampler steps (9 denoiser calls compound the rounding).
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "runtime/verify.h"

using namespace gencast;

namespace {

const VerifyReport& cpu_report() {
  static const VerifyReport report = [] {
    VerifyOptions options;
    options.device = "cpu";
    return run_verify(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny", options);
  }();
  return report;
}

}  // namespace

TEST_CASE("denoise_case: every output variable within 1e-5 of the reference", "[denoiser]") {
  int checked = 0;
  for (const VerifyRow& row : cpu_report().rows) {
    if (row.case_name != "denoise_case.nc") continue;
    INFO(row.quantity << ": " << row.error);
    CHECK(row.error <= 1e-5);
    ++checked;
  }
  // 6 intermediates + 12 denoised + 12 postprocessed variables.
  CHECK(checked == 30);
}

TEST_CASE("denoise_case: each stage of the network matches the recorded intermediates",
          "[denoiser]") {
  std::map<std::string, double> errors;
  for (const VerifyRow& row : cpu_report().rows)
    if (row.case_name == "denoise_case.nc") errors[row.quantity] = row.error;
  for (const char* stage :
       {"intermediates/grid_node_features_sub", "intermediates/global_norm_conditioning",
        "intermediates/mesh_latent_after_grid2mesh", "intermediates/grid_latent_after_grid2mesh_sub",
        "intermediates/mesh_latent_after_transformer", "intermediates/grid_output_sub"}) {
    INFO(stage);
    REQUIRE(errors.count(stage) == 1);
    CHECK(errors[stage] <= 1e-5);
  }
}

TEST_CASE("sampler replays (churn on, and a 2-step rollout with churn off) within 1e-4",
          "[denoiser][sampler]") {
  int churn = 0, rollout = 0, states = 0;
  for (const VerifyRow& row : cpu_report().rows) {
    if (row.case_name == "denoise_case.nc") continue;
    INFO(row.case_name << " " << row.quantity << ": " << row.error);
    CHECK(row.error <= 1e-4);
    if (row.case_name == "sampler_case_churn.nc" && row.quantity.rfind("step 1 prediction/", 0) == 0)
      ++churn;
    if (row.case_name == "rollout_case_churn0.nc" && row.quantity.rfind("step 2 prediction/", 0) == 0)
      ++rollout;
    if (row.quantity.rfind("sampler state", 0) == 0) ++states;
  }
  CHECK(churn == 12);
  CHECK(rollout == 12);
  CHECK(states == 10);  // 5 sampler states x (2m_temperature, temperature)
  CHECK(cpu_report().all_pass());
}

TEST_CASE("the edge-embedding cache (exact folding of the conditioning) changes nothing",
          "[denoiser]") {
  // Both paths against the reference at the same tolerances: the cache folds
  // the embedder's conditioning into the next layer's weights, which only
  // reorders float32 rounding.
  for (const char* mode : {"on", "off"}) {
    VerifyOptions options;
    options.device = "cpu";
    options.edge_cache = parse_edge_cache(mode);
    const VerifyReport report =
        run_verify(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny", options);
    INFO("edge cache " << mode);
    CHECK(report.all_pass());
    CHECK(report.rows.size() == cpu_report().rows.size());
  }
}
