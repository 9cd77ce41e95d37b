// The output files of one forecast run around its sink: the lock that keeps
// a second run off the output (io/output_lock.h), what an interrupted run
// left (OUT.partial and its journal, io/partial_output.h: refused, discarded
// or continued), the resumable sink with its step journal
// (runtime/journaled_sink.h), and what an interrupt leaves behind.
//
// Outputs of resumable formats (NetCDF) are always journaled, so that a run
// killed in any way -- SIGKILL, a node failure, a power loss -- can be
// continued with --resume; other formats keep today's contract (temporary
// file deleted on any failure) and refuse --resume.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/model_config.h"
#include "core/error.h"
#include "io/forecast_sink.h"
#include "io/output_lock.h"
#include "io/step_journal.h"
#include "runtime/async_writer.h"
#include "runtime/interrupt.h"
#include "runtime/resume_point.h"
#include "runtime/run_fingerprint.h"
#include "spec/run_spec.h"

namespace gencast {

class JournaledSink;

// What an interrupted run left next to an output.
struct PartialOutputStatus {
  std::string output;             // OUT
  bool exists = false;            // OUT.partial is there
  bool continuable = false;       // ... with a journal recording at least one step
  int64_t saved = 0, total = 0;   // member-steps recorded / of the run
  std::string writer;             // "PID ... on host ... since ..." of the run that wrote it
  std::string why_not;            // when it exists but is not continuable
  // "OUT.partial (12 of 40 member-steps saved by PID ... on host ... since ...)"
  std::string summary() const;
};
PartialOutputStatus inspect_partial_output(const std::string& output);

// check-config's view of the same decisions the forecast makes: a run
// holding the output's lock, a partial output without --resume/--overwrite
// (problems), what --resume would continue (plan lines).
void check_output_session(const RunSpec& spec, ProblemList& problems,
                          std::vector<std::pair<std::string, std::string>>& plan);

class OutputSession {
 public:
  // Called before anything is loaded. Takes the output's lock (InputError
  // naming the run holding it), then deals with what an interrupted run
  // left: a partial output with nothing recorded is removed; one with saved
  // steps is continued with output.resume, removed with output.overwrite,
  // and refused otherwise (InputError offering both).
  explicit OutputSession(const RunSpec& spec);
  ~OutputSession();
  OutputSession(const OutputSession&) = delete;
  OutputSession& operator=(const OutputSession&) = delete;

  // --resume finding OUT complete (and no partial): true when OUT is this
  // run's output (nothing to do); InputError listing the differences when it
  // is another run's. False in every other case.
  bool output_already_complete(const RunFingerprint& fingerprint) const;

  // When continuing: checks that the partial is this run's (fingerprint,
  // then structure; InputError listing the settings that differ, "seed: 7 vs
  // 8" = partial vs this run), which member-steps it holds, and reads the
  // fields each member in progress continues from, checking each against
  // its journal digest (a member whose fields do not read back as recorded
  // is recomputed from its first step). Empty when starting afresh.
  ResumePoint load_resume_point(const ForecastOutputSpec& out, const RunFingerprint& fingerprint,
                                int64_t batch, const TaskConfig& task);

  // The run's sink: a fresh one, or the partial reopened (after
  // load_resume_point), journaled when the format is resumable.
  std::unique_ptr<ForecastSink> open_sink(OutputFormat format, const ForecastOutputSpec& out,
                                          const RunFingerprint& fingerprint,
                                          const ResumePoint& resume, int64_t batch);

  // After an interrupt: writes what was computed, keeps the partial output
  // when steps are saved, and returns the message for the user ("rerun with
  // --resume to continue; N of M member-steps are saved").
  std::string suspend(AsyncForecastWriter& writer, const Interrupted& interrupt);

 private:
  const RunSpec& spec_;
  OutputLock lock_;
  bool resumable_ = false;  // the format can be resumed: the output is journaled
  bool resuming_ = false;   // a partial output is continued
  JournalContents journal_;
  std::vector<JournalRecord> kept_records_;  // what the resumed journal starts with
  JournaledSink* sink_ = nullptr;            // owned by the AsyncForecastWriter
};

}  // namespace gencast
