// Helpers shared by the [spec] tests: a temporary folder for spec files and
// a way to run a loader call and get the problems it reported.
#pragma once

#include "test_temp_dir.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/error.h"

namespace spec_test {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed with its contents.
using gencast::testing::TempDir;

// Runs `f`, which must throw InputError, and returns its problems. Fails the
// test when nothing is thrown.
template <class F>
std::vector<gencast::Problem> problems_of(F&& f) {
  try {
    f();
  } catch (const gencast::InputError& e) {
    return e.problems();
  }
  FAIL("expected an InputError");
  return {};
}

// The first problem whose field starts with `field_prefix`, or nullptr.
inline const gencast::Problem* find_problem(const std::vector<gencast::Problem>& problems,
                                            const std::string& field_prefix) {
  for (const auto& p : problems) {
    if (p.field.rfind(field_prefix, 0) == 0) return &p;
  }
  return nullptr;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A minimal valid spec: the four required paths, relative to the file.
inline std::string minimal_spec() {
  return "model:\n"
         "  checkpoint: ck.npz\n"
         "  stats_dir: stats\n"
         "input:\n"
         "  path: in.nc\n"
         "output:\n"
         "  path: out.nc\n";
}

}  // namespace spec_test
