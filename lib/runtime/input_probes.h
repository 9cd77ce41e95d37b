// The file probes of one run (io/file_probe.h): the statistics folder and the
// input file are checked in child processes, started together so that they run
// while the caller does other work (the forecast loads the checkpoint
// meanwhile), unless the spec trusts its inputs (runtime.probe_inputs: false).
#pragma once

#include <memory>

#include "core/error.h"
#include "io/file_probe.h"
#include "spec/run_spec.h"

namespace gencast {

class RunInputProbes {
 public:
  // Starts both probes, unless spec.runtime.probe_inputs is false. While
  // waiting, an interrupt (Ctrl-C, SIGTERM) stops the children and throws.
  explicit RunInputProbes(const RunSpec& spec);
  bool enabled() const { return stats_ != nullptr; }
  // What the checks of the statistics folder / the input file found (the same
  // problems as check_stats / check_input_dataset, or a crash or hang of the
  // library naming the file). Each may be called once, and only when enabled().
  void wait_stats(ProblemList& problems);
  void wait_input(ProblemList& problems);

 private:
  std::unique_ptr<FileProbe> stats_, input_;
};

}  // namespace gencast
