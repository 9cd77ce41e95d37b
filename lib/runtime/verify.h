// `gencast-run verify DIR`: replays every recorded case of a reference
// fixture folder (the official JAX code's own outputs) on a backend and
// reports, per case and quantity, the relative L2 error against the recording
// and pass/fail at the tolerance of that device and precision.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/run_options.h"
#include "model/denoiser_options.h"

namespace gencast {

struct VerifyOptions {
  std::string device = "cpu";
  Precision precision = Precision::fp32;
  std::string attention = "auto";
  EdgeCache edge_cache = EdgeCache::automatic;
  // Members per denoiser call: every case is replayed as `batch` identical
  // members in one call, and each copy must pass.
  int64_t batch = 1;
  // The fused edge MLP where the device has one (DenoiserOptions::fused_edges).
  bool fused_edges = DenoiserOptions{}.fused_edges;
};

struct VerifyRow {
  std::string case_name;  // file name of the case
  std::string quantity;   // "denoised/temperature", "intermediates/mesh_latent...", ...
  double error = 0;       // relative L2 error (inf for a NaN mismatch)
  double tolerance = 0;
  bool pass = false;
  std::string note;
};

struct VerifyReport {
  std::string device, device_name, precision;
  std::vector<VerifyRow> rows;
  bool all_pass() const;
  int failures() const;
};

// Tolerance on relative L2 error: float32 CPU 1e-5 for one denoiser call and
// 1e-4 for whole sampler steps (errors of 9+ calls add up); on the GPU fp32
// 1e-4, tf32 1e-3, bf16 2e-2 for everything.
double verify_tolerance(const std::string& backend_name, Precision precision, bool sampler_case);

// Relative L2 error ||a - b|| / ||b|| over the entries finite in b; infinity
// when the NaN patterns of a and b differ, or a has non-finite values where b
// is finite.
double relative_l2(const float* a, const float* b, size_t n);

using VerifyProgress = std::function<void(const VerifyRow&)>;
VerifyReport run_verify(const std::string& dir, const VerifyOptions& options,
                        const VerifyProgress& progress = {});

}  // namespace gencast
