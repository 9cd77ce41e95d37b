// The state sidecar of a partial forecast (OUT.partial.state/,
// io/partial_output.h): the fields of a member's latest steps, raw float32,
// one file per (member, lead time). A member continues from its last two
// steps' fields; they are kept here only when OUT.partial cannot give them
// back bit for bit (it holds a subset of the variables, or packs them lossily).
//
// Each file is written beside, fsync'd and renamed in (io/durable_file.h), so
// a file that exists is whole; the step journal (io/step_journal.h) records
// the step only after its file is durable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gencast {

class FrameStore {
 public:
  // Uses (and creates) the folder `dir`.
  explicit FrameStore(std::string dir);

  // Stores a step's fields durably (RuntimeFailure naming the file on error).
  void write(int64_t member_id, int64_t lead_hours, const float* fields, size_t count) const;
  // Reads them back; false when the file is missing or holds another count.
  bool read(int64_t member_id, int64_t lead_hours, float* fields, size_t count) const;
  // Forgets a step (no error when it is not there).
  void remove(int64_t member_id, int64_t lead_hours) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string file(int64_t member_id, int64_t lead_hours) const;
  std::string dir_;
};

}  // namespace gencast
