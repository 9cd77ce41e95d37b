// `gencast-run make-demo --model PRESET --dir DIR [--seed N] [--frames N]
// [--force]`: writes a complete runnable forecast setup at an official size
// with random weights and synthetic data (lib: io/demo_data.h), then prints
// what was written and the command that runs it.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "commands/commands.h"
#include "core/version.h"
#include "runtime/demo_data.h"

namespace gencast::app {
namespace {

// Single quotes only when the shell would otherwise split or expand the path.
std::string shell_word(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string("_./-+:=@%,").find(c) != std::string::npos;
    plain = plain && ok;
  }
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string size_text(uintmax_t bytes) {
  char buf[32];
  if (bytes >= 1000000) {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(bytes) / 1e3);
  }
  return buf;
}

}  // namespace

void register_make_demo_command(CLI::App& root, CommandResult&) {
  auto options = std::make_shared<DemoOptions>();
  auto* cmd = root.add_subcommand(
      "make-demo",
      "Write a runnable demo (random-weights checkpoint of official size, statistics, "
      "ERA5-like input on the model's grid, run spec) into a folder; no download needed");
  cmd->add_option("--model", options->model,
                  "1p0deg (1 deg, mesh 5), 0p25deg (0.25 deg, mesh 6), mini (1 deg, mesh 4) "
                  "or tiny (4 deg, the test model)")
      ->check(CLI::IsMember({"1p0deg", "0p25deg", "mini", "tiny"}))
      ->required();
  cmd->add_option("--dir", options->dir, "Folder to write into (created when missing)")->required();
  cmd->add_option("--seed", options->weights_seed, "Seed of the random weights")
      ->capture_default_str();
  cmd->add_option("--frames", options->frames,
                  "Input frames 12 h apart from 2019-03-29T00:00 (2 = one initial condition)")
      ->capture_default_str();
  cmd->add_flag("--force", options->force, "Overwrite existing demo files in the folder");
  cmd->callback([options] {
    const DemoResult result = make_demo(*options);
    size_t width = 0;
    for (const auto& f : result.files) width = std::max(width, f.path.size());
    for (const auto& f : result.files)
      std::printf("wrote %-*s  %9s  %s\n", static_cast<int>(width), f.path.c_str(),
                  size_text(f.bytes).c_str(), f.description.c_str());
    std::printf("\nThe weights are random: the forecast shows the pipeline and its cost, not "
                "the weather.\n");
    std::printf("Run the forecast:\n  gencast-run forecast %s\n",
                shell_word(result.spec_path).c_str());
    if (options->model != "tiny" && !kBuiltWithCuda)
      std::printf("This build has no CUDA backend: add --device cpu --precision fp32 "
                  "(slow at this size).\n");
    std::fflush(stdout);
  });
}

}  // namespace gencast::app
