// The completion record of a partial forecast (OUT.partial.journal,
// io/partial_output.h): which (member, lead time) steps are durable in
// OUT.partial, with a digest of each step's fields.
//
// Text, one line per record, so that a person can read it:
//   gencast-run step journal 1
//   key: value                      (header: run fingerprint, structure)
//   end of header <check>
//   step <member id> <lead hours> <fields digest> <check>
// <check> is a digest of the line's text before it.
//
// Why it cannot claim data that is not there, whenever the process dies:
//  - The header is written beside, fsync'd and renamed in (durable_file.h):
//    there is no journal or a whole one.
//  - The writer appends a step's record only after the sink's flush()
//    returned, i.e. after the step's data (and a state file, when one is
//    kept) were fsync'd; the record itself is fsync'd before commit() returns.
//  - A record cut short (a crash inside the append, or sectors lost at a
//    power failure) fails its check; reading stops at the first bad line,
//    so the journal claims a prefix of what was committed, never more.
//    A resumed run rewrites the journal whole (create) with the records it
//    kept, so nothing is ever appended after a torn line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gencast {

struct JournalRecord {
  int64_t member_id = 0;
  int64_t lead_hours = 0;
  uint64_t digest = 0;  // fields_digest of the step's fields as handed to the sink
};

using JournalHeader = std::vector<std::pair<std::string, std::string>>;

struct JournalContents {
  JournalHeader header;
  std::vector<JournalRecord> records;  // every valid record, in order
  int64_t valid_bytes = 0;             // length of the valid prefix of the file
  bool torn_tail = false;              // bytes after it (an interrupted append)
  // A header value, "" when absent.
  std::string value(const std::string& key) const;
};

// Reads a journal. InputError naming the file when it is not a journal or
// its header fails its check; a damaged record only ends the records.
JournalContents read_step_journal(const std::string& path);

class StepJournal {
 public:
  // Creates (replacing any) a journal holding `header` and `records`,
  // atomically and durably: a resumed run rewrites its journal with the
  // records it trusts, dropping torn tails, repeats and unverifiable steps.
  static StepJournal create(const std::string& path, const JournalHeader& header,
                            const std::vector<JournalRecord>& records = {});
  ~StepJournal();
  StepJournal(StepJournal&& other) noexcept;
  StepJournal& operator=(StepJournal&&) = delete;
  StepJournal(const StepJournal&) = delete;

  // Appends the records and fsyncs them: durable when it returns.
  // RuntimeFailure naming the file on any error.
  void commit(const std::vector<JournalRecord>& records);
  const std::string& path() const { return path_; }

 private:
  StepJournal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

// Digest of `count` floats' bytes, computed in fixed blocks on every core;
// the same value whatever the number of workers.
uint64_t fields_digest(const float* values, size_t count);

}  // namespace gencast
