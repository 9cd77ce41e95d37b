#include "runtime/forecast_merge.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/text.h"
#include "io/forecast_chunk_reader.h"
#include "io/forecast_reader.h"
#include "io/netcdf_forecast_writer.h"
#include "runtime/interrupt.h"
#include "runtime/memory_plan.h"
#include "runtime/output_sinks.h"
#include "runtime/progress.h"
#include "runtime/run_fingerprint.h"
#include "spec/spec_loader.h"
#include "spec/spec_yaml.h"

namespace gencast {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// "12..36 h (3)" for lead-time messages.
std::string leads_text(const std::vector<int64_t>& leads) {
  if (leads.empty()) return "none";
  return std::to_string(leads.front()) + ".." + std::to_string(leads.back()) + " h (" +
         std::to_string(leads.size()) + ")";
}

std::string channels_text(const std::vector<ChannelSlot>& channels) {
  std::vector<std::string> names;
  for (const auto& c : channels)
    if (names.empty() || names.back() != c.variable) names.push_back(c.variable);
  return join(names, ", ");
}

// The first structural difference between two parts ("" when none): what a
// writer would lay out differently.
std::string structure_difference(const ForecastOutputSpec& a, const ForecastOutputSpec& b) {
  if (a.layout != b.layout)
    return std::string("layout: ") + output_layout_name(a.layout) + " vs " + output_layout_name(b.layout);
  if (a.ensemble_dim != b.ensemble_dim)
    return "member dimension: " + a.ensemble_dim + " vs " + b.ensemble_dim;
  if (a.init_time_s != b.init_time_s)
    return "init time: " + format_iso_time(a.init_time_s) + " vs " + format_iso_time(b.init_time_s);
  if (a.lead_hours != b.lead_hours)
    return "lead times: " + leads_text(a.lead_hours) + " vs " + leads_text(b.lead_hours);
  if (a.lat != b.lat || a.lon != b.lon)
    return "grid: " + std::to_string(a.lat.size()) + " x " + std::to_string(a.lon.size()) + " vs " +
           std::to_string(b.lat.size()) + " x " + std::to_string(b.lon.size()) +
           (a.lat.size() == b.lat.size() && a.lon.size() == b.lon.size() ? " with other coordinates" : "");
  if (a.levels != b.levels)
    return "levels: " + join_numbers(a.levels) + " vs " + join_numbers(b.levels);
  if (!(a.channels == b.channels))
    return "variables: " + channels_text(a.channels) + " vs " + channels_text(b.channels);
  return "";
}

// One part, as checked: its structure and where its members go.
struct Part {
  std::string path;
  ForecastFileInfo info;
};

Part read_part_info(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    fail_input(path, "", "an existing forecast file (a part to merge)",
               fs::exists(path, ec) ? "not a regular file" : "no such file");
  return {path, ForecastReader(path).info()};
}

// Refuses a part whose run cannot be checked.
void check_has_identity(const Part& part) {
  if (part.info.spec.run_identity.empty())
    fail_input(part.path, kIdentityAttribute, "the run identity gencast-run records in every forecast",
               "no such global attribute",
               "files written before gencast-run recorded run identities cannot be checked; "
               "re-run the members into one file instead");
}

// Refuses a part of another run: every identity key but `batch` must agree.
// A batch difference is added to `batch_notes`, for the warning.
void check_same_run(const Part& ref, const Part& part, std::vector<std::string>& batch_notes) {
  const std::string& a = ref.info.spec.run_identity;
  const std::string& b = part.info.spec.run_identity;
  std::vector<std::string> refused;
  for (const std::string& d : identity_differences(a, b)) {
    if (d.rfind("batch: ", 0) == 0) batch_notes.push_back(part.path + ": " + d);
    else refused.push_back(d);
  }
  if (!refused.empty())
    fail_input(part.path, kIdentityAttribute, "a part of the same run as " + ref.path,
               "a different run (" + join(refused, "; ") + ")",
               "merge only parts made with the same checkpoint, stats, input, init time, seed, "
               "steps, precision and sampler");
  const std::string diff = structure_difference(ref.info.spec, part.info.spec);
  if (!diff.empty())
    fail_input(part.path, "structure", "the same grid, lead times, variables, levels and layout as " + ref.path,
               diff);
}

// The parts' history lines, newest first as CF asks, each once.
std::string merged_history(const std::string& command_line, const std::vector<Part>& parts) {
  std::vector<std::string> lines;
  for (const Part& p : parts) {
    std::istringstream in(p.info.attribute("history"));
    std::string line;
    while (std::getline(in, line))
      if (!line.empty() && std::find(lines.begin(), lines.end(), line) == lines.end())
        lines.push_back(line);
  }
  std::string out = command_line.empty() ? "gencast-run merge" : command_line;
  for (const auto& line : lines) out += "\n" + line;
  return out;
}

// The first part's run spec with the merged member list and output path, so
// that the attribute describes the file it is in. Kept as it is (with a
// warning) if it does not parse.
std::string merged_run_spec(const Part& first, const std::vector<int64_t>& members,
                            const std::string& output, std::vector<std::string>& warnings) {
  const std::string& yaml = first.info.spec.run_spec_yaml;
  if (yaml.empty()) return yaml;
  SpecDraft draft = parse_spec_text(SpecText{"run_spec attribute", yaml, "/", "/"});
  draft.spec.source = "the run spec of " + first.path + " with the merged members";
  if (!draft.document_ok || !draft.problems.empty()) {
    warnings.push_back("the first part's run_spec attribute does not parse; kept as it is");
    return yaml;
  }
  draft.spec.forecast.member_ids = members;
  draft.spec.forecast.members = static_cast<int64_t>(members.size());
  draft.spec.output.path = output;
  return to_yaml(draft.spec);
}

// The identity of the merged file: the parts' own, or with `batch` listing
// every value when the parts used different ones.
RunFingerprint merged_identity(const std::vector<Part>& parts) {
  RunFingerprint f = parse_run_identity(parts.front().info.spec.run_identity);
  std::vector<std::string> batches;
  for (const Part& p : parts) {
    const std::string b = identity_value(p.info.spec.run_identity, "batch");
    if (std::find(batches.begin(), batches.end(), b) == batches.end()) batches.push_back(b);
  }
  if (batches.size() > 1)
    for (auto& [key, value] : f.items)
      if (key == "batch") value = "mixed " + join(batches, ", ");
  return f;
}

class MergeProgress {
 public:
  MergeProgress(int64_t total, double bytes_per_step, double every_seconds)
      : total_(total), bytes_per_step_(bytes_per_step), every_(every_seconds) {}
  void step_done() {
    ++done_;
    const double elapsed = seconds();
    if (elapsed - last_ < every_ || done_ == total_) return;
    last_ = elapsed;
    const double rate = bytes_per_step_ * static_cast<double>(done_) / elapsed;
    spdlog::info("merge: {}/{} member-steps ({:.0f} %), {}/s, ETA {}", done_, total_,
                 100.0 * static_cast<double>(done_) / static_cast<double>(total_),
                 format_bytes(rate),
                 format_duration(elapsed / static_cast<double>(done_) *
                                 static_cast<double>(total_ - done_)));
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  const int64_t total_;
  const double bytes_per_step_, every_;
  int64_t done_ = 0;
  double last_ = 0;
  const Clock::time_point start_ = Clock::now();
};

}  // namespace

MergeResult merge_forecasts(const MergeOptions& options) {
  install_interrupt_handlers();
  const auto t0 = Clock::now();
  if (options.parts.empty())
    fail_input("command line", "PART.nc", "at least one forecast file to merge", "none");
  {
    ProblemList problems;
    std::error_code ec;
    if (fs::exists(options.output, ec) && !options.overwrite)
      problems.add(options.output, "-o", "an output file that does not exist yet", "an existing file",
                   "pass --overwrite to replace it");
    for (const auto& part : options.parts)
      if (same_file(options.output, part))
        problems.add(options.output, "-o", "an output that is none of the parts",
                     "the part " + part, "choose another output name");
    problems.throw_if_any();
  }

  // Every part's structure and identity, checked before any data is copied.
  std::vector<Part> parts;
  for (const auto& path : options.parts) parts.push_back(read_part_info(path));
  std::vector<std::string> batch_notes;
  std::map<int64_t, size_t> owner;  // member id -> part
  for (size_t p = 0; p < parts.size(); ++p) {
    check_has_identity(parts[p]);
    if (p > 0) check_same_run(parts.front(), parts[p], batch_notes);
    for (int64_t id : parts[p].info.spec.member_ids) {
      const auto [it, added] = owner.emplace(id, p);
      if (!added)
        fail_input(parts[p].path, "member " + std::to_string(id),
                   "members that no other part holds", "member " + std::to_string(id) + " is also in " + parts[it->second].path,
                   "each member may come from one part only; leave out one of the two files");
    }
  }

  std::vector<int64_t> order = options.member_order;
  if (order.empty()) {
    for (const auto& [id, part] : owner) order.push_back(id);  // std::map: sorted
  } else {
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> held;
    for (const auto& [id, part] : owner) held.push_back(id);
    if (sorted != held)
      throw RuntimeFailure("merge: the parts hold members " + join_numbers(held, ",") +
                           ", not the expected " + join_numbers(sorted, ","));
  }

  MergeResult result;
  for (const auto& note : batch_notes) {
    const std::string w = "parts computed with different batch sizes (" + note +
                          "): their members agree within the precision's tolerance, not bitwise";
    spdlog::warn("{}", w);
    result.warnings.push_back(w);
  }

  const ForecastOutputSpec& ref = parts.front().info.spec;
  ForecastOutputSpec out = ref;
  out.path = options.output;
  out.member_ids = order;
  out.variables.clear();  // the parts' channels are exactly the variables they hold
  out.compression = options.compression.value_or(ref.compression);
  out.grib_packing = options.grib_packing;
  out.keep_bits = options.keep_bits.value_or(options.format == OutputFormat::grib ? 0 : ref.keep_bits);
  if (options.layout && *options.layout != ref.layout) {
    const bool default_dim = ref.ensemble_dim == default_ensemble_dim(ref.layout);
    out.layout = *options.layout;
    if (default_dim) out.ensemble_dim = default_ensemble_dim(out.layout);
  }
  out.spec_file = "command line";
  out.command_line = merged_history(options.command_line,
                                    options.keep_part_history ? parts : std::vector<Part>{});
  out.run_spec_yaml = options.run_spec_yaml.empty()
                          ? merged_run_spec(parts.front(), order, options.output, result.warnings)
                          : options.run_spec_yaml;
  const RunFingerprint identity = merged_identity(parts);
  out.run_identity = identity.text();
  out.run_fingerprint = batch_notes.empty() ? ref.run_fingerprint : identity.digest();
  out.tool_version.clear();
  {
    std::vector<std::string> names;
    for (const auto& c : out.channels)
      if (std::find(names.begin(), names.end(), c.variable) == names.end()) names.push_back(c.variable);
    ProblemList problems;
    check_sink_options(options.format, out, names, problems);
    problems.throw_if_any();
  }

  std::map<int64_t, int> position;  // member id -> index in the output
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = static_cast<int>(i);
  const size_t n_grid = out.lat.size() * out.lon.size();
  const size_t n_channels = out.channels.size();
  const auto n_leads = static_cast<int>(out.lead_hours.size());
  const double step_bytes = static_cast<double>(n_grid * n_channels * sizeof(float));
  result.output = options.output;
  result.parts = static_cast<int64_t>(parts.size());
  result.members = static_cast<int64_t>(order.size());
  result.member_steps = result.members * n_leads;
  spdlog::info("merging {} part(s): {} members x {} lead times ({} of fields) into {}",
               parts.size(), result.members, n_leads,
               format_bytes(step_bytes * static_cast<double>(result.member_steps)), options.output);

  // One part open at a time: a merge of a thousand ranks' parts does not
  // hold a thousand HDF5 files (and their chunk caches) open.
  std::unique_ptr<ForecastSink> sink = make_forecast_sink(options.format, out);
  // A NetCDF output of the parts' own settings takes their stored chunks as
  // they are: file I/O only, no inflating and deflating every field again.
  auto* netcdf = dynamic_cast<NetcdfForecastWriter*>(sink.get());
  MergeProgress progress(result.member_steps, step_bytes, options.progress_seconds);
  std::vector<float> fields(n_grid * n_channels);
  std::vector<ForecastChunk> chunks;
  for (const Part& part : parts) {
    const auto& part_ids = part.info.spec.member_ids;
    ForecastChunkReader stored(part.path, part.info);
    std::string why;
    if (netcdf != nullptr && stored.compatible_with(out, why)) {
      for (size_t m = 0; m < part_ids.size(); ++m)
        for (int lead = 0; lead < n_leads; ++lead) {
          throw_if_interrupted();
          stored.read_step(static_cast<int>(m), lead, chunks);
          netcdf->write_chunks(position.at(part_ids[m]), lead, chunks);
          progress.step_done();
        }
      ++result.parts_copied_as_stored;
      continue;
    }
    if (netcdf != nullptr)
      spdlog::debug("{}: decoded and encoded again ({})", part.path, why);
    const ForecastReader reader(part.path);
    const auto& ids = reader.info().spec.member_ids;
    for (size_t m = 0; m < ids.size(); ++m)
      for (int lead = 0; lead < n_leads; ++lead) {
        throw_if_interrupted();
        reader.read_step(static_cast<int>(m), lead, fields.data());
        sink->write_step(position.at(ids[m]), lead, fields.data());
        progress.step_done();
      }
  }
  sink->close();
  result.bytes = step_bytes * static_cast<double>(result.member_steps);
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  spdlog::info("merged {} part(s) into {}: {} members x {} lead times, {} in {} ({}/s; {} part(s) "
               "copied as stored)", parts.size(), options.output, result.members, n_leads,
               format_bytes(result.bytes), format_duration(result.seconds),
               format_bytes(result.bytes / std::max(result.seconds, 1e-9)), result.parts_copied_as_stored);
  return result;
}

}  // namespace gencast
