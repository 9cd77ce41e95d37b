// `gencast-run bench`: time the denoiser and the sampler on a model of
// official size with random weights (or a checkpoint) and synthetic inputs.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "commands/commands.h"
#include "core/error.h"
#include "runtime/bench.h"

namespace gencast::app {

void register_bench_command(CLI::App& root, CommandResult&) {
  struct Args {
    BenchOptions options;
    std::string precision = "fp32";
    std::string edge_cache = "auto";
    std::string json;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = root.add_subcommand(
      "bench", "Benchmark the denoiser and one 12 h step (random weights of official size)");
  cmd->add_option("--model", args->options.model,
                  "1p0deg (mesh 5), 0p25deg (mesh 6), mini (mesh 4), tiny, or a checkpoint .npz")
      ->capture_default_str();
  cmd->add_option("--grid", args->options.grid, "1p0, 0p25 or 4p0 (default: by mesh size)");
  cmd->add_option("--device", args->options.device, "cpu or cuda:N")->capture_default_str();
  cmd->add_option("--precision", args->precision, precision_choices())->capture_default_str();
  cmd->add_option("--attention", args->options.attention, "auto, triblockdiag, sparse or dense")
      ->capture_default_str();
  cmd->add_option("--calls", args->options.calls, "timed denoiser calls after one warm-up")
      ->capture_default_str();
  cmd->add_option("--steps", args->options.steps, "timed full 12 h steps (0 = none)")
      ->capture_default_str();
  cmd->add_option("--batch", args->options.batch, "members per denoiser call (times are per call)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxBatch));
  cmd->add_option("--chunk-rows", args->options.chunk_rows, "rows of the denoiser's edge chunks")
      ->capture_default_str();
  cmd->add_option("--edge-cache", args->edge_cache,
                  "auto, on or off: keep the edge embeddings on the device")
      ->capture_default_str();
  cmd->add_option("--segment-split", args->options.segment_split_edges,
                  "edges per piece of the two-level segment sums of heavy receivers (0 = off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--graph-only", args->options.graph_only, "only build and time the graphs");
  cmd->add_flag("--profile", args->options.profile,
                "also time each stage of a call (synchronizes between stages)");
  cmd->add_option("--json", args->json, "also write the result as JSON to this file ('-' = stdout)");
  cmd->callback([args] {
    args->options.precision = parse_precision(args->precision);
    args->options.edge_cache = parse_edge_cache(args->edge_cache);
    const BenchResult r = run_bench(args->options);
    std::printf("%s", bench_table(r).c_str());
    if (args->json == "-") {
      std::printf("%s\n", bench_json(r).c_str());
    } else if (!args->json.empty()) {
      std::ofstream out(args->json);
      if (!out) fail_input("command line", "--json", "a writable file", "'" + args->json + "'");
      out << bench_json(r) << "\n";
    }
    // One summary line last (scripts/gpu-check.sh quotes it).
    char summary[256];
    std::snprintf(summary, sizeof summary,
                  "summary: call %.4f s, step %.3f s, %.1f TFLOP/s, device peak %.2f GB, host RSS %.2f GB\n",
                  r.call_seconds_median, r.step_seconds, r.tflops, r.peak_device_bytes / 1e9,
                  r.peak_host_rss_bytes / 1e9);
    std::printf("%s", summary);
  });
}

}  // namespace gencast::app
