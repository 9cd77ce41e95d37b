#include "runtime/output_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "config/variables.h"
#include "core/hash64.h"
#include "core/text.h"
#include "io/forecast_reader.h"
#include "io/frame_store.h"
#include "io/netcdf_util.h"
#include "io/partial_output.h"
#include "runtime/journaled_sink.h"
#include "runtime/output_sinks.h"

namespace gencast {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRunPrefix = "run ";
constexpr const char* kStructurePrefix = "structure ";
constexpr const char* kResumeHint =
    "rerun with the settings of the run that wrote it to continue it, or pass --overwrite to "
    "discard it and start over";

// The written variables in file order (all targets when no subset is asked).
std::vector<std::string> written_variables(const ForecastOutputSpec& out) {
  std::vector<std::string> names;
  for (const auto& ch : out.channels) {
    const bool selected = out.variables.empty() || std::find(out.variables.begin(), out.variables.end(),
                                                             ch.variable) != out.variables.end();
    if (selected && std::find(names.begin(), names.end(), ch.variable) == names.end())
      names.push_back(ch.variable);
  }
  return names;
}

// Whether the output file gives every step's fields back bit for bit, so
// that members continue from it and need no state sidecar: every target
// variable written, losslessly (no BitRound).
bool partial_holds_frames(const ForecastOutputSpec& out) {
  std::set<std::string> targets;
  for (const auto& ch : out.channels) targets.insert(ch.variable);
  return written_variables(out).size() == targets.size() && out.keep_bits == 0;
}

std::string grid_text(const ForecastOutputSpec& out) {
  Hash64 h;
  h.update(out.lat.data(), out.lat.size() * sizeof(float));
  h.update(out.lon.data(), out.lon.size() * sizeof(float));
  return std::to_string(out.lat.size()) + " x " + std::to_string(out.lon.size()) + " " + h.hex();
}

// What must be equal for a partial file to be continued as this run's output:
// the run's identity (values) and the file's structure (shape, options).
JournalHeader journal_header(const ForecastOutputSpec& out, const RunFingerprint& fingerprint,
                             const std::string& writer) {
  JournalHeader h;
  h.emplace_back("output", out.path);
  if (!writer.empty()) h.emplace_back("writer", writer);
  h.emplace_back("fingerprint", fingerprint.digest());
  h.emplace_back("member_steps", std::to_string(out.member_ids.size() * out.lead_hours.size()));
  auto structure = [&](const std::string& key, const std::string& value) {
    h.emplace_back(kStructurePrefix + key, value);
  };
  structure("layout", output_layout_name(out.layout));
  structure("ensemble_dim", out.ensemble_dim);
  structure("variables", join(written_variables(out), ","));
  structure("compression", std::to_string(out.compression));
  structure("keep_bits", std::to_string(out.keep_bits));
  structure("members", join_numbers(out.member_ids, ","));
  structure("lead_hours", join_numbers(out.lead_hours, ","));
  structure("levels", join_numbers(out.levels, ","));
  structure("grid", grid_text(out));
  for (const auto& [key, value] : fingerprint.items) h.emplace_back(kRunPrefix + key, value);
  return h;
}

// "key: A vs B" for the entries with `prefix` that differ (prefix removed).
std::vector<std::string> header_differences(const JournalHeader& a, const JournalHeader& b,
                                            const std::string& prefix) {
  auto text = [&](const JournalHeader& h) {
    std::string out;
    for (const auto& [key, value] : h)
      if (key.rfind(prefix, 0) == 0) out += key.substr(prefix.size()) + ": " + value + "\n";
    return out;
  };
  return identity_differences(text(a), text(b));
}

std::string format_list(const std::vector<std::string>& items) { return join(items, "; "); }

}  // namespace

std::string PartialOutputStatus::summary() const {
  return partial_output_paths(output).data + " (" + std::to_string(saved) + " of " +
         std::to_string(total) + " member-steps saved" + (writer.empty() ? "" : " by " + writer) +
         ")";
}

PartialOutputStatus inspect_partial_output(const std::string& output) {
  PartialOutputStatus st;
  st.output = output;
  const PartialOutputPaths p = partial_output_paths(output);
  std::error_code ec;
  st.exists = fs::exists(p.data, ec);
  if (!st.exists) return st;
  if (!fs::exists(p.journal, ec)) {
    st.why_not = "it has no journal: its run stopped while creating it";
    return st;
  }
  try {
    const JournalContents journal = read_step_journal(p.journal);
    std::set<std::pair<int64_t, int64_t>> steps;
    for (const auto& r : journal.records) steps.emplace(r.member_id, r.lead_hours);
    st.saved = static_cast<int64_t>(steps.size());
    st.total = std::atoll(journal.value("member_steps").c_str());
    st.writer = journal.value("writer");
    if (st.saved == 0) st.why_not = "no step of it was saved";
  } catch (const std::exception& e) {
    st.why_not = std::string("its journal cannot be used: ") + e.what();
  }
  st.continuable = st.why_not.empty();
  return st;
}

void check_output_session(const RunSpec& spec, ProblemList& problems,
                          std::vector<std::pair<std::string, std::string>>& plan) {
  const std::string& out = spec.output.path;
  if (out.empty()) return;
  if (const auto holder = output_lock_holder(out)) {
    problems.add(out, "output.path", "an output that no other run is writing",
                 "it is being written by " + *holder,
                 "wait for that run to end, or choose another output path");
    return;  // its partial file is live, not an interrupted run's
  }
  if (spec.output.resume && !sink_can_resume(spec.output.format)) {
    problems.add(spec.source, "output.resume", "an output format that can be resumed (netcdf)",
                 output_format_name(spec.output.format));
    return;
  }
  const PartialOutputStatus st = inspect_partial_output(out);
  if (!st.exists) {
    if (spec.output.resume) plan.emplace_back("resume", "no partial output: the run starts afresh");
    return;
  }
  if (!st.continuable) {
    plan.emplace_back("partial output", partial_output_paths(out).data + ": " + st.why_not +
                                            "; the run removes it");
  } else if (spec.output.resume) {
    plan.emplace_back("resume", "continues " + st.summary());
  } else if (spec.output.overwrite) {
    plan.emplace_back("partial output", "discards " + st.summary() + " (--overwrite)");
  } else {
    problems.add(partial_output_paths(out).data, "output.path",
                 "no partial output left by an interrupted run", st.summary(),
                 "pass --resume to continue it, or --overwrite to discard it and start over");
  }
}

OutputSession::OutputSession(const RunSpec& spec)
    : spec_(spec), lock_(spec.output.path), resumable_(sink_can_resume(spec.output.format)) {
  const std::string& out = spec.output.path;
  if (spec.output.resume && !resumable_)
    throw InputError(Problem{spec.source, "output.resume",
                             "an output format that can be resumed (netcdf)",
                             output_format_name(spec.output.format),
                             "write NetCDF to resume, or run without --resume"});
  const PartialOutputPaths p = partial_output_paths(out);
  const PartialOutputStatus st = inspect_partial_output(out);
  std::error_code ec;
  if (!st.exists) {
    // A journal or state folder without its data file: the end of a
    // completed run (or of a removal) was interrupted; nothing to keep.
    if (fs::exists(p.journal, ec) || fs::exists(p.journal + ".tmp", ec) || fs::exists(p.state_dir, ec))
      remove_partial_output(out);
    return;
  }
  if (!st.continuable) {
    spdlog::info("removing {} left by an interrupted run: {}", p.data, st.why_not);
    remove_partial_output(out);
    return;
  }
  if (!resumable_) {
    throw InputError(Problem{p.data, "output.path", "no partial output left by an interrupted run",
                             st.summary(),
                             "write NetCDF with --resume to continue it, or remove it"});
  }
  if (spec.output.resume) {
    journal_ = read_step_journal(p.journal);
    resuming_ = true;
    return;
  }
  if (spec.output.overwrite) {
    spdlog::info("discarding {} (--overwrite)", st.summary());
    remove_partial_output(out);
    return;
  }
  throw InputError(Problem{p.data, "output.path", "no partial output left by an interrupted run",
                           st.summary(),
                           "pass --resume to continue it, or --overwrite to discard it and start over"});
}

OutputSession::~OutputSession() = default;

bool OutputSession::output_already_complete(const RunFingerprint& fingerprint) const {
  const std::string& out = spec_.output.path;
  std::error_code ec;
  if (!spec_.output.resume || spec_.output.overwrite || resuming_ || !fs::exists(out, ec))
    return false;
  const ForecastFileInfo info = ForecastReader(out).info();
  if (info.spec.run_fingerprint == fingerprint.digest()) {
    spdlog::info("{} is complete already (a finished run with these settings): nothing to resume",
                 out);
    return true;
  }
  throw InputError(Problem{out, "output.path", "the output of this same run (to --resume it)",
                           "the finished output of another run (file vs this run: " +
                               format_list(identity_differences(info.spec.run_identity,
                                                                fingerprint.text())) +
                               ")",
                           "pass --overwrite to replace it, or choose another output path"});
}

ResumePoint OutputSession::load_resume_point(const ForecastOutputSpec& out,
                                             const RunFingerprint& fingerprint, int64_t batch,
                                             const TaskConfig& task) {
  ResumePoint rp;
  rp.members = static_cast<int64_t>(out.member_ids.size());
  rp.steps = static_cast<int64_t>(out.lead_hours.size());
  if (!resuming_) return rp;
  const PartialOutputPaths p = partial_output_paths(out.path);

  // Same run, same file structure.
  const JournalHeader ours = journal_header(out, fingerprint, "");
  const auto run_diffs = header_differences(journal_.header, ours, kRunPrefix);
  if (!run_diffs.empty())
    throw InputError(Problem{p.data, "run", "the partial output of this same run",
                             "the partial output of another run (partial vs this run: " +
                                 format_list(run_diffs) + ")",
                             kResumeHint});
  const auto structure_diffs = header_differences(journal_.header, ours, kStructurePrefix);
  if (!structure_diffs.empty())
    throw InputError(Problem{p.data, "output", "a partial output of this run's output options",
                             "other output options (partial vs this run: " +
                                 format_list(structure_diffs) + ")",
                             kResumeHint});

  // The data file belongs to the journal and can be read.
  std::optional<ForecastReader> reader;
  try {
    reader.emplace(p.data);
  } catch (const std::exception& e) {
    throw InputError(Problem{p.data, "file", "a readable partial output", e.what(),
                             "pass --overwrite to discard it and start over"});
  }
  const ForecastOutputSpec& held = reader->info().spec;
  if (held.run_fingerprint != journal_.value("fingerprint") || held.member_ids != out.member_ids ||
      held.lead_hours != out.lead_hours || held.lat.size() != out.lat.size() ||
      held.lon.size() != out.lon.size())
    throw InputError(Problem{p.data, "file", "the partial output its journal " + p.journal + " describes",
                             "a file of another run or shape",
                             "pass --overwrite to discard it and start over"});

  // Which steps are saved, and their digests (the last record of a step wins).
  std::map<int64_t, size_t> member_index, lead_index;
  for (size_t i = 0; i < out.member_ids.size(); ++i) member_index[out.member_ids[i]] = i;
  for (size_t i = 0; i < out.lead_hours.size(); ++i) lead_index[out.lead_hours[i]] = i;
  rp.done.assign(static_cast<size_t>(rp.members * rp.steps), 0);
  std::vector<uint64_t> digest(rp.done.size(), 0);
  for (const auto& r : journal_.records) {
    const auto m = member_index.find(r.member_id);
    const auto l = lead_index.find(r.lead_hours);
    if (m == member_index.end() || l == lead_index.end()) continue;
    const size_t at = m->second * static_cast<size_t>(rp.steps) + l->second;
    rp.done[at] = 1;
    digest[at] = r.digest;
  }

  // The fields each member in progress continues from, checked against the
  // journal: a member whose fields do not read back as recorded starts over.
  const bool from_file = partial_holds_frames(out);
  bool same_channels = held.channels.size() == out.channels.size();
  for (size_t c = 0; same_channels && c < out.channels.size(); ++c)
    same_channels = held.channels[c].variable == out.channels[c].variable &&
                    held.channels[c].level == out.channels[c].level;
  if (from_file && !same_channels)
    throw InputError(Problem{p.data, "variables", "every target variable, in the run's channel order",
                             std::to_string(held.channels.size()) + " channels in another order",
                             "pass --overwrite to discard it and start over"});
  std::optional<FrameStore> store;
  if (!from_file) store.emplace(p.state_dir);
  const int64_t n_in = input_frame_count(task);
  const size_t values = out.lat.size() * out.lon.size() * out.channels.size();
  const Shape shape{static_cast<int64_t>(out.lat.size() * out.lon.size()),
                    static_cast<int64_t>(out.channels.size())};
  auto read_back = [&](int64_t m, int64_t step, ArrayF& fields) {
    try {
      if (store)
        return store->read(out.member_ids[static_cast<size_t>(m)],
                           out.lead_hours[static_cast<size_t>(step)], fields.ptr(), values) &&
               fields_digest(fields.ptr(), values) == digest[static_cast<size_t>(m * rp.steps + step)];
      reader->read_step(static_cast<int>(m), static_cast<int>(step), fields.ptr());
    } catch (const std::exception& e) {
      spdlog::warn("{}: reading member {} at +{} h: {}", p.data, out.member_ids[static_cast<size_t>(m)],
                   out.lead_hours[static_cast<size_t>(step)], e.what());
      return false;
    }
    return fields_digest(fields.ptr(), values) == digest[static_cast<size_t>(m * rp.steps + step)];
  };
  int64_t to_compute = 0, recomputed = 0;
  const int64_t group = std::max<int64_t>(batch, 1);
  for (int64_t g0 = 0; g0 < rp.members; g0 += group) {
    std::vector<int64_t> members;
    for (int64_t m = g0; m < std::min(rp.members, g0 + group); ++m) members.push_back(m);
    for (bool loaded = false; !loaded;) {
      loaded = true;
      const int64_t first = rp.first_step(members);
      if (first == 0 || first >= rp.steps) break;
      const int64_t k = std::min(first, n_in);
      for (int64_t m : members) {
        std::vector<ArrayF> recent;
        for (int64_t step = first - k; step < first && loaded; ++step) {
          recent.emplace_back(shape);
          if (read_back(m, step, recent.back())) continue;
          spdlog::warn("{}: member {}'s step +{} h does not read back as its journal recorded it; "
                       "the member is recomputed from its first step",
                       p.data, out.member_ids[static_cast<size_t>(m)],
                       out.lead_hours[static_cast<size_t>(step)]);
          std::fill_n(rp.done.begin() + m * rp.steps, rp.steps, 0);
          loaded = false;
        }
        if (!loaded) break;
        rp.recent[m] = std::move(recent);
      }
      if (!loaded)
        for (int64_t m : members) rp.recent.erase(m);
    }
    const int64_t first = rp.first_step(members);
    for (int64_t m : members)
      for (int64_t step = first; step < rp.steps; ++step) {
        ++to_compute;
        if (rp.is_done(m, step)) ++recomputed;
      }
  }
  for (size_t at = 0; at < rp.done.size(); ++at)
    if (rp.done[at])
      kept_records_.push_back({out.member_ids[at / static_cast<size_t>(rp.steps)],
                               out.lead_hours[at % static_cast<size_t>(rp.steps)], digest[at]});
  const std::string writer = journal_.value("writer");
  spdlog::info("resuming {}{}: {} of {} member-steps saved; {} member-steps to compute{}", p.data,
               writer.empty() ? "" : " (written by " + writer + ")", rp.saved(), rp.done.size(),
               to_compute,
               recomputed > 0 ? " (" + std::to_string(recomputed) +
                                    " of them saved already: their group restarts with its "
                                    "slowest member; not written again)"
                              : "");
  return rp;
}

std::unique_ptr<ForecastSink> OutputSession::open_sink(OutputFormat format,
                                                       const ForecastOutputSpec& out,
                                                       const RunFingerprint& fingerprint,
                                                       const ResumePoint& resume, int64_t batch) {
  if (!resumable_) return make_forecast_sink(format, out);
  const PartialOutputPaths p = partial_output_paths(out.path);
  std::vector<unsigned char> done = resume.done;
  if (done.empty()) done.assign(out.member_ids.size() * out.lead_hours.size(), 0);
  std::unique_ptr<ForecastSink> inner;
  if (resuming_) {
    inner = reopen_forecast_sink(format, out, done);
  } else {
    inner = make_forecast_sink(format, out);
    inner->flush();  // defined and durable before its journal says it exists
  }
  // A resumed run's journal is rewritten whole (atomically) with the
  // records kept: repeats, torn tails and members started over disappear.
  StepJournal journal = StepJournal::create(p.journal, journal_header(out, fingerprint, lock_.holder()),
                                            resuming_ ? kept_records_ : std::vector<JournalRecord>{});
  std::optional<FrameStore> frames;
  if (!partial_holds_frames(out)) frames.emplace(p.state_dir);
  auto sink = std::make_unique<JournaledSink>(std::move(inner), out, std::move(journal),
                                              std::move(frames), std::move(done), batch);
  sink_ = sink.get();
  return sink;
}

std::string OutputSession::suspend(AsyncForecastWriter& writer, const Interrupted& interrupt) {
  if (sink_ == nullptr) return interrupt.what();
  writer.suspend();
  if (!sink_->suspended()) return interrupt.what();  // nothing saved: everything is removed
  return "interrupted by " + interrupt.signal_name() + ": rerun with --resume to continue; " +
         std::to_string(sink_->saved()) + " of " + std::to_string(sink_->total()) +
         " member-steps are saved in " + partial_output_paths(spec_.output.path).data +
         " (--overwrite discards them)";
}

}  // namespace gencast
