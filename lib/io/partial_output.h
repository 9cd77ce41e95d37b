// The files of an unfinished forecast, next to its output OUT. Their names
// are fixed (no PID in them) so that a later run finds what a killed one left:
//
//   OUT.partial          the sink's data file; renamed to OUT when complete
//   OUT.partial.journal  which (member, lead) steps are durable in it
//                        (io/step_journal.h)
//   OUT.partial.state/   the last frames of members in progress, kept only
//                        when OUT.partial cannot give them back bit for bit
//                        (a variables subset, lossy packing; io/frame_store.h)
//   OUT.lock             locked by the run writing OUT (io/output_lock.h)
//
// OUT.partial without its journal is a file whose creation was interrupted:
// it holds nothing that can be continued.
#pragma once

#include <string>

namespace gencast {

struct PartialOutputPaths {
  std::string data, journal, state_dir, lock;
};

PartialOutputPaths partial_output_paths(const std::string& output);

// Removes OUT.partial, its journal (and a half-written replacement of it)
// and its state folder (not the lock).
// Quiet about files that are not there; RuntimeFailure naming the file when
// one exists and cannot be removed.
void remove_partial_output(const std::string& output);

}  // namespace gencast
