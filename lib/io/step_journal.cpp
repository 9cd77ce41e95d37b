#include "io/step_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/error.h"
#include "core/hash64.h"
#include "core/parallel.h"
#include "io/durable_file.h"

namespace gencast {
namespace {

constexpr const char* kMagic = "gencast-run step journal 1";
constexpr const char* kEndOfHeader = "end of header ";

std::string check_of(const std::string& text) {
  Hash64 h;
  h.update(text);
  return h.hex();
}

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::string record_line(const JournalRecord& r) {
  const std::string body = "step " + std::to_string(r.member_id) + " " +
                           std::to_string(r.lead_hours) + " " + hex16(r.digest);
  return body + " " + check_of(body) + "\n";
}

// Parses one record line (without its newline); false when malformed or its check fails.
bool parse_record(const std::string& line, JournalRecord& r) {
  const size_t last = line.rfind(' ');
  if (last == std::string::npos || line.compare(0, 5, "step ") != 0) return false;
  const std::string body = line.substr(0, last);
  if (check_of(body) != line.substr(last + 1)) return false;
  long long member = 0, lead = 0;
  char digest[17] = {};
  if (std::sscanf(body.c_str(), "step %lld %lld %16s", &member, &lead, digest) != 3) return false;
  char* end = nullptr;
  r.member_id = member;
  r.lead_hours = lead;
  r.digest = std::strtoull(digest, &end, 16);
  return end != nullptr && *end == '\0';
}

[[noreturn]] void fail_errno(const std::string& path, const std::string& what) {
  throw RuntimeFailure(path + ": " + what + " failed: " + std::strerror(errno));
}

[[noreturn]] void not_a_journal(const std::string& path, const std::string& found) {
  throw InputError(Problem{path, "header", "a gencast-run step journal", found,
                           "pass --overwrite to discard the partial output and start over"});
}

}  // namespace

std::string JournalContents::value(const std::string& key) const {
  for (const auto& [k, v] : header)
    if (k == key) return v;
  return "";
}

JournalContents read_step_journal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeFailure(path + ": cannot read the journal");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  JournalContents out;
  size_t pos = 0;
  auto next_line = [&](std::string& line) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) return false;
    line = text.substr(pos, nl - pos);
    pos = nl + 1;
    return true;
  };
  std::string line;
  if (!next_line(line) || line != kMagic) not_a_journal(path, "a file without the journal's first line");
  std::string header_text = line + "\n";
  bool ended = false;
  while (next_line(line)) {
    if (line.rfind(kEndOfHeader, 0) == 0) {
      if (check_of(header_text) != line.substr(std::strlen(kEndOfHeader)))
        not_a_journal(path, "a header that fails its check (the file was changed or damaged)");
      ended = true;
      break;
    }
    header_text += line + "\n";
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) not_a_journal(path, "the header line '" + line + "'");
    out.header.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  }
  if (!ended) not_a_journal(path, "a header without its end");
  out.valid_bytes = static_cast<int64_t>(pos);
  while (next_line(line)) {
    JournalRecord r;
    if (!parse_record(line, r)) break;
    out.records.push_back(r);
    out.valid_bytes = static_cast<int64_t>(pos);
  }
  out.torn_tail = out.valid_bytes < static_cast<int64_t>(text.size());
  return out;
}

StepJournal StepJournal::create(const std::string& path, const JournalHeader& header,
                                const std::vector<JournalRecord>& records) {
  std::string text = std::string(kMagic) + "\n";
  for (const auto& [key, value] : header) {
    if (key.find(": ") != std::string::npos || key.find('\n') != std::string::npos ||
        value.find('\n') != std::string::npos)
      throw std::invalid_argument("StepJournal: header entries must be single-line 'key: value'");
    text += key + ": " + value + "\n";
  }
  text += kEndOfHeader + check_of(text) + "\n";
  for (const auto& r : records) text += record_line(r);
  write_file_durably(path, text.data(), text.size());
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) fail_errno(path, "opening the journal");
  return StepJournal(path, fd);
}

StepJournal::StepJournal(StepJournal&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

StepJournal::~StepJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void StepJournal::commit(const std::vector<JournalRecord>& records) {
  if (records.empty()) return;
  std::string text;
  for (const auto& r : records) text += record_line(r);
  // One write: a kill cannot interleave it, and a torn one fails its check.
  const ssize_t n = ::write(fd_, text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size())) {
    if (n >= 0) errno = ENOSPC;
    fail_errno(path_, "appending to the journal");
  }
  if (::fdatasync(fd_) != 0) fail_errno(path_, "fsync of the journal");
}

uint64_t fields_digest(const float* values, size_t count) {
  constexpr size_t kBlock = size_t{1} << 18;  // floats per block: 1 MiB
  const size_t blocks = (count + kBlock - 1) / kBlock;
  std::vector<uint64_t> digests(blocks);
  parallel_for(static_cast<int64_t>(blocks), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const size_t first = static_cast<size_t>(b) * kBlock;
      const size_t n = std::min(kBlock, count - first);
      Hash64 h;
      h.update(values + first, n * sizeof(float));
      digests[static_cast<size_t>(b)] = h.digest();
    }
  }, /*min_rows=*/1);
  Hash64 h;
  const uint64_t n = count;
  h.update(&n, sizeof n);
  h.update(digests.data(), digests.size() * sizeof(uint64_t));
  return h.digest();
}

}  // namespace gencast
