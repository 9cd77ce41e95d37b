// `gencast-run verify DIR`: does this build/GPU reproduce DeepMind's outputs?
// Replays a reference fixture folder and prints per case and quantity the
// relative L2 error, its tolerance and pass/fail. Exit 0 only if all pass.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "commands/commands.h"
#include "core/json.h"
#include "runtime/verify.h"

namespace gencast::app {
namespace {

struct VerifyArgs {
  std::string dir;
  std::string device = "cpu";
  std::string precision = "fp32";
  std::string attention = "auto";
  std::string edge_cache = "auto";
  std::string fused_edges = "default";
  int64_t batch = 1;
  bool json = false;
};

void print_json(const VerifyReport& report) {
  JsonWriter out;
  out.begin_object()
      .key("device").value(report.device)
      .key("device_name").value(report.device_name)
      .key("precision").value(report.precision)
      .key("pass").value(report.all_pass())
      .key("rows").begin_array();
  for (const VerifyRow& r : report.rows) {
    out.begin_object()
        .key("case").value(r.case_name)
        .key("quantity").value(r.quantity)
        .key("rel_l2").value(r.error)  // null when not finite
        .key("tolerance").value(r.tolerance)
        .key("pass").value(r.pass)
        .end_object();
  }
  out.end_array().end_object();
  std::printf("%s\n", out.str().c_str());
}

}  // namespace

void register_verify_command(CLI::App& root, CommandResult& result) {
  auto args = std::make_shared<VerifyArgs>();
  auto* cmd = root.add_subcommand(
      "verify", "Replay a reference fixture folder (the official code's outputs) and compare");
  cmd->add_option("dir", args->dir, "fixture folder, e.g. tests/data/gencast_tiny")->required();
  cmd->add_option("--device", args->device, "cpu or cuda:N")->capture_default_str();
  cmd->add_option("--precision", args->precision, precision_choices())->capture_default_str();
  cmd->add_option("--attention", args->attention, "auto, triblockdiag, sparse or dense")
      ->capture_default_str();
  cmd->add_option("--edge-cache", args->edge_cache, "auto, on or off")->capture_default_str();
  cmd->add_option("--fused-edges", args->fused_edges,
                  "on or off: the fused edge MLP where the device has it (default: the "
                  "forecast's choice)")
      ->check(CLI::IsMember({"default", "on", "off"}));
  cmd->add_option("--batch", args->batch,
                  "replay every case as N identical members in one denoiser call")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxBatch));
  cmd->add_flag("--json", args->json, "print the report as one JSON object");
  cmd->callback([args, &result] {
    VerifyOptions options;
    options.device = args->device;
    options.precision = parse_precision(args->precision);
    options.attention = args->attention;
    options.edge_cache = parse_edge_cache(args->edge_cache);
    options.batch = args->batch;
    if (args->fused_edges != "default") options.fused_edges = args->fused_edges == "on";
    if (!args->json)
      std::printf("%-24s %-52s %12s %10s %8s\n", "case", "quantity", "rel L2", "tolerance",
                  "result");
    const VerifyReport report = run_verify(args->dir, options, [&](const VerifyRow& r) {
      if (args->json) return;
      std::printf("%-24s %-52s %12.3e %10.0e %8s\n", r.case_name.c_str(), r.quantity.c_str(),
                  r.error, r.tolerance, r.pass ? "pass" : "FAIL");
      std::fflush(stdout);
    });
    if (args->json) {
      print_json(report);
    } else {
      std::printf("\n%s on %s (%s, %s): %zu checks, %d failed -> %s\n", args->dir.c_str(),
                  report.device.c_str(), report.device_name.c_str(), report.precision.c_str(),
                  report.rows.size(), report.failures(), report.all_pass() ? "PASS" : "FAIL");
    }
    result.exit_code = report.all_pass() ? 0 : 1;
  });
}

}  // namespace gencast::app
