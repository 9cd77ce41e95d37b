// Test helper: runs the gencast-run binary (GENCAST_RUN_BINARY) in a shell,
// optionally from a given working directory, and captures exit code, stdout
// and stderr.
#pragma once

#include <string>

namespace gencast::testing {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
  std::string all() const { return out + err; }
};

// `args` is appended to the binary path verbatim (shell syntax); `cwd` empty
// = the test's working directory.
CliResult run_gencast(const std::string& args, const std::string& cwd = {});

// Runs a whole shell command line (e.g. "VAR=1 'binary' args", or with
// ulimit/trap in front) and captures its exit code, stdout and stderr. A
// command killed by a signal has exit_code 128 + the signal (the shell's).
CliResult run_shell(const std::string& command);

// Single-quotes a string for the shell.
std::string shell_quote(const std::string& s);

}  // namespace gencast::testing
