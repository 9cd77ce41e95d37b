// `gencast-run bench`: time the denoiser and the sampler on a model of
// official size with random weights (or a checkpoint) and synthetic inputs;
// with --writer, time the forecast file writer alone.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "commands/commands.h"
#include "core/error.h"
#include "runtime/bench.h"
#include "runtime/bench_writer.h"

namespace gencast::app {

namespace {

void write_json(const std::string& target, const std::string& text) {
  if (target == "-") {
    std::printf("%s\n", text.c_str());
  } else if (!target.empty()) {
    std::ofstream out(target);
    if (!out) fail_input("command line", "--json", "a writable file", "'" + target + "'");
    out << text << "\n";
  }
}

}  // namespace

void register_bench_command(CLI::App& root, CommandResult&) {
  struct Args {
    BenchOptions options;
    std::string precision = "fp32";
    std::string edge_cache = "auto";
    std::string fused_edges = "off";
    std::string json;
    bool writer = false;
    WriterBenchOptions writer_options;
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
  cmd->add_option("--fused-edges", args->fused_edges,
                  "on or off: the fused edge MLP where the device has it (off: the ops one by "
                  "one, for A/B timings)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_flag("--graph-only", args->options.graph_only, "only build and time the graphs");
  cmd->add_flag("--profile", args->options.profile,
                "also time each stage of a call (synchronizes between stages)");
  cmd->add_option("--json", args->json, "also write the result as JSON to this file ('-' = stdout)");
  const char* kWriterGroup = "Writer benchmark (--writer)";
  // The model options do not apply to --writer; its own defaults differ.
  const auto run_writer = [](Args& a, const CLI::App& c) {
    WriterBenchOptions o = a.writer_options;
    o.grid = a.options.grid.empty() ? "0p25" : a.options.grid;
    o.steps = c.count("--steps") > 0 ? a.options.steps : 4;
    const WriterBenchResult r = run_writer_bench(o);
    std::printf("%s", writer_bench_table(r).c_str());
    write_json(a.json, writer_bench_json(r));
    std::printf("%s\n", writer_bench_summary(r).c_str());  // last (scripts/gpu-check.sh quotes it)
  };
  cmd->add_flag("--writer", args->writer,
                "time the forecast writer alone: synthetic member-steps through the NetCDF sink "
                "(--grid, --steps = member-steps, default 0p25 and 4)")
      ->group(kWriterGroup);
  cmd->add_option("--threads", args->writer_options.threads,
                  "cores that compress the output (0 = all, up to 16)")
      ->capture_default_str()
      ->group(kWriterGroup);
  cmd->add_option("--compression", args->writer_options.compression, "output.compression 0-9")
      ->capture_default_str()
      ->group(kWriterGroup);
  cmd->add_option("--keep-bits", args->writer_options.keep_bits,
                  "output.keep_bits 1-23 (default lossless)")
      ->group(kWriterGroup);
  cmd->add_option("--fields-from", args->writer_options.fields_from,
                  "write the target variables of this input NetCDF's frames instead of "
                  "synthetic fields (its grid replaces --grid)")
      ->group(kWriterGroup);
  cmd->add_option("--output", args->writer_options.output,
                  "keep the written file here (default: a temporary file, removed)")
      ->group(kWriterGroup);
  cmd->callback([args, cmd, run_writer] {
    if (args->writer) return run_writer(*args, *cmd);
    if (cmd->count("--threads") + cmd->count("--compression") + cmd->count("--keep-bits") +
            cmd->count("--output") + cmd->count("--fields-from") > 0) {
      fail_input("command line", "--threads/--compression/--keep-bits/--output/--fields-from",
                 "these only with --writer", "a model benchmark");
    }
    args->options.precision = parse_precision(args->precision);
    args->options.edge_cache = parse_edge_cache(args->edge_cache);
    args->options.fused_edges = args->fused_edges == "on";
    const BenchResult r = run_bench(args->options);
    std::printf("%s", bench_table(r).c_str());
    write_json(args->json, bench_json(r));
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
