// gencast-run entry point: global options, subcommands, and the one place
// where exceptions become exit codes (0 ok, 1 runtime failure, 2 usage/input).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "commands/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "devices/device_factory.h"
#include "io/file_probe.h"

namespace gencast::app {

void print_error(const std::string& message) {
  if (gencast::log_format() == gencast::LogFormat::json) {
    spdlog::error("{}", message);
  } else {
    std::fprintf(stderr, "%serror: %s\n", gencast::log_rank_prefix().c_str(), message.c_str());
  }
}

}  // namespace gencast::app

int main(int argc, char** argv) {
  // Hidden command: the child side of the NetCDF file probe (io/file_probe.h),
  // which starts this program again to read untrusted files safely.
  if (gencast::is_file_probe_command(argc, argv)) return gencast::file_probe_child_main(argc, argv);
  using gencast::ExitCode;
  CLI::App root{"gencast-run: GenCast ensemble weather forecasts on NVIDIA GPUs and CPUs"};
  root.require_subcommand(1);
  root.fallthrough();  // global options (--log-level, --log-format, --gemm-tuning) also after the subcommand
  root.set_version_flag("--version", std::string("gencast-run ") + gencast::kVersion +
                                         (gencast::kBuiltWithCuda ? " (CUDA" : " (CPU only") +
                                         (gencast::kBuiltWithMpi ? ", MPI)" : ")"));
  std::string log_level = "info";
  std::string log_format = "text";
  root.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  root.add_option("--log-format", log_format, "text, or json (one JSON object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  bool gemm_tuning = false;
  root.add_flag("--gemm-tuning", gemm_tuning,
                "GPU: time cuBLASLt's candidate algorithms on the first call of each GEMM "
                "shape and keep the fastest (faster tf32; last bits may differ between runs)");
  root.parse_complete_callback([&] {
    gencast::init_logging(log_level, log_format == "json" ? gencast::LogFormat::json
                                                          : gencast::LogFormat::text);
    gencast::set_gemm_tuning(gemm_tuning);
    if (gemm_tuning)
      spdlog::info("GEMM tuning on: the first call of each GEMM shape times cuBLASLt's "
                   "candidates{}", gencast::cuda_backend_built() ? "" : " (no effect: CPU-only build)");
  });

  gencast::app::CommandResult result;
  for (int i = 0; i < argc; ++i) result.command_line += (i ? " " : "") + std::string(argv[i]);
  gencast::app::register_forecast_command(root, result);
  gencast::app::register_check_config_command(root, result);
  gencast::app::register_inspect_command(root, result);
  gencast::app::register_verify_command(root, result);
  gencast::app::register_bench_command(root, result);
  gencast::app::register_make_demo_command(root, result);
  gencast::app::register_plot_command(root, result);
  gencast::app::register_merge_command(root, result);

  try {
    root.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return root.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    root.exit(e);
    return static_cast<int>(ExitCode::usage_error);
  } catch (const gencast::InputError& e) {
    gencast::app::print_error(e.what());
    return static_cast<int>(ExitCode::usage_error);
  } catch (const std::exception& e) {
    gencast::app::print_error(e.what());
    return static_cast<int>(ExitCode::runtime_failure);
  }
  return result.exit_code;
}
