// Shared test fixtures: the reference fixture's tiny model on its 4° grid,
// and fresh random normal and uniform arrays (kernel and model checks never run on zeros).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/array.h"
#include "model/checkpoint.h"
#include "runtime/model_setup.h"

namespace gencast::testing {

// The fixture's model on its 4° grid with poles (lat -90..90, lon 0..356),
// built once per test process.
inline const PreparedModel& tiny_model() {
  static const PreparedModel model = [] {
    Checkpoint checkpoint =
        load_checkpoint(std::string(GENCAST_TEST_DATA_DIR) + "/gencast_tiny/tiny_checkpoint.npz");
    std::vector<float> lat, lon;
    for (int i = 0; i < 46; ++i) lat.push_back(static_cast<float>(-90 + 4 * i));
    for (int i = 0; i < 90; ++i) lon.push_back(static_cast<float>(4 * i));
    return prepare_model(std::move(checkpoint), "auto", lat, lon);
  }();
  return model;
}

// N(0, 1) values from a seeded generator.
inline ArrayF random_normal(Shape shape, uint32_t seed) {
  ArrayF a(std::move(shape));
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (float& v : a.data) v = dist(rng);
  return a;
}

// Uniform values in [lo, hi) from a seeded generator.
inline ArrayF random_uniform(const Shape& shape, uint32_t seed, float lo, float hi) {
  ArrayF a(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (auto& v : a.data) v = u(rng);
  return a;
}

}  // namespace gencast::testing
