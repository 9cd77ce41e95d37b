#include "cluster/mpi_forecast.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>
#include <map>

#include "cluster/mpi_session.h"
#include "cluster/rank_phases.h"
#include "core/error.h"
#include "core/text.h"
#include "devices/device_factory.h"
#include "io/checkpoint_reader.h"
#include "io/forecast_reader.h"
#include "io/initial_conditions.h"
#include "io/npz.h"
#include "io/stats.h"
#include "runtime/forecast_merge.h"
#include "runtime/interrupt.h"
#include "runtime/launcher_env.h"
#include "runtime/memory_plan.h"
#include "runtime/plot_maps.h"
#include "runtime/progress.h"
#include "runtime/rank_plan.h"
#include "runtime/run_fingerprint.h"
#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"

namespace gencast {
namespace {

namespace fs = std::filesystem;

// srun without an MPI plugin starts copies that each see a job of one.
void check_launcher(const MpiSession& mpi) {
  const std::string problem = launcher_problem(detect_launcher(), true, mpi.size());
  if (!problem.empty()) fail_input("command line", "launcher", "ranks of one MPI job", problem);
}

// What every rank plans before the ranks agree on the batch.
struct LocalPlan {
  RunSpec spec;         // the whole run
  RankDevices devices;  // this rank's workers
  int64_t batch = INT64_MAX;  // this rank's batch choice (INT64_MAX: none)
};

void plan_locally(const MpiSession& mpi, const std::function<RunSpec()>& resolve_spec,
                  LocalPlan& plan, bool for_check) {
  plan.spec = resolve_spec();
  check_launcher(mpi);
  plan.devices = rank_devices(plan.spec.runtime.worker_devices(), mpi.place().local_rank,
                              mpi.place().local_size, cuda_device_count());
  if (!plan.devices.sharing.empty()) spdlog::warn("{}", plan.devices.sharing);
  RunSpec probe = plan.spec;
  probe.runtime.devices = plan.devices.devices;
  const auto members = static_cast<int64_t>(plan.spec.forecast.member_ids.size());
  const int64_t useful = members_per_worker(
      members, static_cast<int64_t>(mpi.size()) * static_cast<int64_t>(plan.devices.devices.size()));
  if (!for_check) {
    plan.batch = plan_rank_batch(probe, useful);
    return;
  }
  try {
    plan.batch = plan_rank_batch(probe, useful);
  } catch (const InputError&) {
    // check_run lists the device or file problem with the others.
  }
}

// This rank's spec: its devices, the agreed batch, its members.
RunSpec rank_spec_of(const LocalPlan& plan, int64_t batch, const MemberRange& range) {
  RunSpec s = plan.spec;
  const auto& ids = plan.spec.forecast.member_ids;
  s.runtime.devices = plan.devices.devices;
  s.runtime.batch = batch;
  s.forecast.member_ids.assign(ids.begin() + range.first, ids.begin() + range.last);
  s.forecast.members = range.size();
  return s;
}

std::string ranks_line(const MpiSession& mpi, int64_t batch, const std::string& output) {
  return std::to_string(mpi.size()) + " MPI ranks on " + std::to_string(mpi.place().nodes) +
         " node(s); members in groups of " + std::to_string(batch) +
         ", whole groups per rank; each rank writes a part, rank 0 merges them into " + output;
}

std::string place_text(const RankPlace& p) {
  return p.node + " (node-local rank " + std::to_string(p.local_rank) + " of " +
         std::to_string(p.local_size) + ")";
}

// Problems travel to rank 0 as text: fields split by \x1f, problems by \x1e.
std::string encode(const std::string& share, const std::vector<Problem>& problems) {
  std::string out = share;
  for (const Problem& p : problems)
    out += "\x1e" + p.file + "\x1f" + p.field + "\x1f" + p.expected + "\x1f" + p.found + "\x1f" + p.hint;
  return out;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// --resume finding the output there: true when it is this run's finished
// output (nothing to do), InputError naming the differences when it is
// another run's; false otherwise. Computes the run's identity the way the
// forecast does (checkpoint, statistics and input digests).
bool output_complete_for_resume(const RunSpec& spec, int64_t batch) {
  std::error_code ec;
  if (!spec.output.resume || spec.output.overwrite || !fs::exists(spec.output.path, ec)) return false;
  const ForecastFileInfo info = ForecastReader(spec.output.path).info();
  const ModelConfig config = read_model_config(NpzReader(spec.model.checkpoint));
  const SamplerConfig sampler = merge_sampler_config(config.sampler, spec);
  const NormalizationStats stats = read_stats(spec.model.stats_dir, config.task);
  const InputDataset initial = read_initial_conditions(
      spec.input.paths(), config.task,
      spec.input.init_time ? format_init_time(*spec.input.init_time) : std::string());
  const RunFingerprint fingerprint =
      make_run_fingerprint(spec, sampler, batch, file_digest(spec.model.checkpoint),
                           stats_digest(stats), input_digest(initial), initial.times_s.back());
  if (info.spec.run_fingerprint == fingerprint.digest()) {
    spdlog::info("{} is complete already (a finished run with these settings): nothing to resume",
                 spec.output.path);
    return true;
  }
  fail_input(spec.output.path, "output.path", "the output of this same run (to --resume it)",
             "the finished output of another run (file vs this run: " +
                 join(identity_differences(info.spec.run_identity, fingerprint.text()), "; ") + ")",
             "pass --overwrite to replace it, or choose another output path");
}

}  // namespace

std::string rank_part_path(const std::string& output, int rank, int size) {
  return output + ".rank" + std::to_string(rank) + "-of-" + std::to_string(size) + ".part";
}

RankOutcome forecast_on_ranks(const std::function<RunSpec()>& resolve_spec,
                              const std::string& command_line) {
  const auto t0 = std::chrono::steady_clock::now();
  const MpiSession mpi;
  RankPhases phases(mpi);
  LocalPlan plan;
  if (mpi.size() == 1) {  // mpirun -n 1: the one-process run
    phases.run("forecast", [&] {
      plan.spec = resolve_spec();
      check_launcher(mpi);
      run_forecast(plan.spec, command_line);
    });
    return phases.outcome();
  }
  const bool planned = phases.run("plan", [&] {
    plan_locally(mpi, resolve_spec, plan, false);
    // The output is refused (exists without --overwrite, no folder) before
    // any rank starts; the other checks ran on every rank.
    if (mpi.root()) {
      ProblemList problems;
      check_spec_paths(plan.spec, problems);
      problems.throw_if_any();
    }
  });
  if (!planned) return phases.outcome();

  const int64_t batch = mpi.allreduce(plan.batch, MPI_MIN);
  const auto& ids = plan.spec.forecast.member_ids;
  const auto members = static_cast<int64_t>(ids.size());
  const std::string& output = plan.spec.output.path;

  // --resume and the output is there: done already if it is this run's.
  bool complete = false;
  if (!phases.run("resume check", [&] {
        if (mpi.root()) complete = output_complete_for_resume(plan.spec, batch);
      }))
    return phases.outcome();
  if (mpi.allreduce(complete ? 1 : 0, MPI_MAX) > 0) return phases.outcome();

  const MemberRange range = rank_member_range(members, batch, mpi.rank(), mpi.size());
  RunSpec rank_spec = rank_spec_of(plan, batch, range);
  rank_spec.output.path = rank_part_path(output, mpi.rank(), mpi.size());
  // A part an earlier attempt of this job left (finished or partial) is
  // continued with --resume, else discarded.
  rank_spec.output.overwrite = !plan.spec.output.resume;
  // NetCDF output: the parts are stored exactly as the merged file stores
  // them (the run's compression and keep_bits, each rank compressing on its
  // own cores), so that rank 0's merge copies their chunks as they are, file
  // I/O only. GRIB output: exact, uncompressed parts, decoded once by the merge.
  if (plan.spec.output.format != OutputFormat::netcdf) {
    rank_spec.output.compression = 0;
    rank_spec.output.keep_bits = 0;
  }
  rank_spec.output.format = OutputFormat::netcdf;
  rank_spec.output.plot = false;  // rank 0 draws the merged file's map
  if (mpi.root()) spdlog::info("{}", ranks_line(mpi, batch, output));
  spdlog::info("{}: {}", place_text(mpi.place()),
               describe_rank_share(ids, range, plan.devices.devices));

  set_stop_poll([&phases] { return phases.poll_peers(); });
  const bool ran = phases.run("forecast", [&] {
    if (!range.empty()) run_forecast(rank_spec, command_line);
  });
  set_stop_poll({});
  const double forecast_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const bool merged = ran && phases.run("merge", [&] {
    if (!mpi.root()) return;
    MergeOptions merge;
    for (int r = 0; r < mpi.size(); ++r) {
      if (rank_member_range(members, batch, r, mpi.size()).empty()) continue;
      merge.parts.push_back(rank_part_path(output, r, mpi.size()));
      std::error_code ec;
      if (!fs::exists(merge.parts.back(), ec))
        throw RuntimeFailure(merge.parts.back() + ": rank " + std::to_string(r) +
                             "'s part is not visible on rank 0 (" + mpi.place().node +
                             "); the output folder must be on a file system every rank shares");
    }
    merge.output = output;
    merge.overwrite = plan.spec.output.overwrite;
    merge.format = plan.spec.output.format;
    merge.grib_packing = plan.spec.output.grib_packing;
    merge.compression = plan.spec.output.compression;
    merge.keep_bits = plan.spec.output.keep_bits;
    merge.layout = plan.spec.output.layout;
    merge.member_order = ids;
    merge.command_line = command_line + " (" + std::to_string(mpi.size()) + " MPI ranks)";
    merge.run_spec_yaml = to_yaml(plan.spec);
    merge.keep_part_history = false;
    const MergeResult result = merge_forecasts(merge);
    spdlog::info("forecast on {} ranks: {} member-steps in {}, then the merge in {}", mpi.size(),
                 result.member_steps, format_duration(forecast_seconds),
                 format_duration(result.seconds));
    if (plan.spec.output.plot) {
      PlotOptions plot;
      plot.forecast = output;
      spdlog::info("wrote {}", plot_forecast(plot).path);
    }
  });
  if (merged) {
    if (!range.empty()) {
      std::error_code ec;
      fs::remove(rank_spec.output.path, ec);
    }
  } else if (mpi.root() && ran) {
    spdlog::warn("the ranks' parts ({}) are kept: the same command with --resume (and {} ranks) "
                 "merges them without computing again; without --resume they are discarded",
                 rank_part_path(output, 0, mpi.size()) + "...", mpi.size());
  } else if (mpi.root() && !ran) {
    spdlog::warn("what the ranks finished is kept in their parts ({}): the same command with "
                 "--resume (and {} ranks) continues them; without --resume they are discarded",
                 rank_part_path(output, 0, mpi.size()) + "[.partial]...", mpi.size());
  }
  return phases.outcome();
}

RankCheck check_on_ranks(const std::function<RunSpec()>& resolve_spec) {
  const MpiSession mpi;
  RankCheck out;
  RankPhases phases(mpi);
  LocalPlan plan;
  if (!phases.run("plan", [&] { plan_locally(mpi, resolve_spec, plan, true); })) {
    out.outcome = phases.outcome();
    return out;
  }
  int64_t batch = mpi.allreduce(plan.batch, MPI_MIN);
  if (batch == INT64_MAX) batch = 1;  // no rank could choose: the problems say why
  const auto& ids = plan.spec.forecast.member_ids;
  const auto members = static_cast<int64_t>(ids.size());
  const MemberRange range = rank_member_range(members, batch, mpi.rank(), mpi.size());
  // The whole member list, so that the plan describes the whole run; this
  // rank's devices and the agreed batch.
  RunSpec check_spec = rank_spec_of(plan, batch, {0, members});
  RunCheck check;
  if (!phases.run("check", [&] { check = check_run(check_spec); })) {
    out.outcome = phases.outcome();
    return out;
  }
  const std::string share = place_text(mpi.place()) + ": " +
                            describe_rank_share(ids, range, plan.devices.devices);
  const std::vector<std::string> gathered = mpi.gather(encode(share, check.problems));
  const int64_t problems = mpi.allreduce(static_cast<int64_t>(check.problems.size()), MPI_SUM);
  out.outcome.exit_code = problems > 0 ? static_cast<int>(ExitCode::usage_error) : 0;
  if (!mpi.root()) return out;

  // Problems seen on every rank once; the others with the ranks that saw them.
  std::vector<std::pair<Problem, std::vector<int>>> seen;
  RunCheck all;
  all.plan = check.plan;
  if (mpi.size() > 1) all.plan.emplace_back("ranks", ranks_line(mpi, batch, plan.spec.output.path));
  for (int r = 0; r < mpi.size(); ++r) {
    const std::vector<std::string> records = split(gathered[static_cast<size_t>(r)], '\x1e');
    if (mpi.size() > 1) all.plan.emplace_back("rank " + std::to_string(r), records.front());
    for (size_t i = 1; i < records.size(); ++i) {
      const std::vector<std::string> f = split(records[i], '\x1f');
      if (f.size() != 5) continue;
      const Problem p{f[0], f[1], f[2], f[3], f[4]};
      auto it = std::find_if(seen.begin(), seen.end(),
                             [&](const auto& s) { return s.first.to_string() == p.to_string(); });
      if (it == seen.end()) seen.emplace_back(p, std::vector<int>{r});
      else if (it->second.back() != r) it->second.push_back(r);
    }
  }
  for (auto& [problem, ranks] : seen) {
    if (static_cast<int>(ranks.size()) < mpi.size())
      problem.found += " (on rank" + std::string(ranks.size() > 1 ? "s " : " ") +
                       join_numbers(ranks, ", ") + ")";
    all.problems.push_back(problem);
  }
  out.check = std::move(all);
  out.resolved_yaml = to_yaml(plan.spec);
  return out;
}

}  // namespace gencast
