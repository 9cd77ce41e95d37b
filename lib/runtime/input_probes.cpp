#include "runtime/input_probes.h"

#include "runtime/interrupt.h"
#include "spec/run_spec.h"

namespace gencast {

RunInputProbes::RunInputProbes(const RunSpec& spec) {
  if (!spec.runtime.probe_inputs) return;
  FileProbeOptions options;
  options.poll = [] { throw_if_interrupted(); };
  const std::string init = spec.input.init_time ? format_init_time(*spec.input.init_time) : "";
  stats_ = std::make_unique<FileProbe>(
      FileProbeRequest{FileProbeKind::stats, spec.model.checkpoint, {spec.model.stats_dir}, ""},
      options);
  input_ = std::make_unique<FileProbe>(
      FileProbeRequest{FileProbeKind::input, spec.model.checkpoint, spec.input.paths(), init},
      options);
}

void RunInputProbes::wait_stats(ProblemList& problems) { stats_->wait(problems); }

void RunInputProbes::wait_input(ProblemList& problems) { input_->wait(problems); }

}  // namespace gencast
