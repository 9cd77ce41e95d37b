// Registers the run-spec override flags (--checkpoint, --steps, ...) on a
// CLI11 subcommand, so that `forecast` and `check-config` accept the same
// overrides. The flags fill a SpecOverrides owned by the caller; it must
// outlive parsing.
#pragma once

#include <CLI/CLI.hpp>

#include "spec/spec_overrides.h"

namespace gencast::app {

void add_spec_override_flags(CLI::App& cmd, SpecOverrides& overrides);

}  // namespace gencast::app
