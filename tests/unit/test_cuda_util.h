// Shared helpers for the CUDA parity and performance tests (test_cuda_*.cpp):
// device detection with the ctest skip marker, fresh random inputs, and the
// normalised error check (NaN/Inf first, then relative L2 against a budget).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "devices/device_factory.h"

namespace gencast::test {

// True when make_backend("cuda:0", fp32) succeeds (evaluated once).
bool cuda_available();
// Prints exactly "GENCAST_SKIP: no CUDA device" (ctest's skip marker).
void print_cuda_skip();

// Returns from the calling test (after the skip marker) without a GPU; for
// tests in namespace gencast::test or with it in scope.
#define SKIP_WITHOUT_CUDA()  \
  do {                       \
    if (!cuda_available()) { \
      print_cuda_skip();     \
      return;                \
    }                        \
  } while (0)

// Uniform values in [lo, hi) from a per-case seed.
ArrayF random_array(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f);

// ||got - ref|| / ||ref||; +inf when got holds NaN/Inf or the shapes differ.
double relative_l2(const ArrayF& got, const ArrayF& ref);
// The same for flat vectors; +inf also when ref holds NaN/Inf (so NaN never
// passes on either side) and when ref is all zeros but got is not.
double relative_l2(const std::vector<float>& got, const std::vector<float>& ref);

// Checks got against ref: every value finite, relative L2 <= tol. Prints the
// error as a fraction of the budget so near-misses are visible in passing runs.
void check_close(const std::string& label, const ArrayF& got, const ArrayF& ref, double tol);

// Rounds to the nearest bf16 (ties to even) and back, on the host.
float round_to_bf16(float v);

}  // namespace gencast::test
