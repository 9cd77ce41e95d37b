// Reading untrusted files without risking the process: a corrupt NetCDF-4 file
// can crash the HDF5 library (invalid frees, segfaults in its heap and B-tree
// code) or make it loop, a corrupt GRIB file ecCodes, and no error code comes
// back. So before the process reads a statistics folder or its initial
// conditions, a child process runs the very same validation (check_stats /
// check_initial_conditions, the same reads of the same files) under a time
// limit:
//  - it finishes: its problems are the check's problems, with the in-process
//    check's exact messages; with none, the process may read the files (the
//    library does the same thing twice on the same bytes);
//  - it crashes or hangs: one problem naming the file the library was reading
//    ("the NetCDF/HDF5 library crashed reading it ... the file is corrupt or
//    truncated"; io/open_observer.h tells the parent which file and library),
//    an InputError (exit 2) for the caller.
//
// The child is this program itself (/proc/self/exe) started with
// kFileProbeCommand as argv[1], never a fork of the caller: the caller has
// threads and netCDF is not fork-safe. Every main() that can reach a probe
// must therefore start with
//     if (is_file_probe_command(argc, argv)) return file_probe_child_main(argc, argv);
// (app/main.cpp, the test runner, the fuzz harnesses).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace gencast {

// argv[1] of the hidden command that runs a probe's child side.
inline constexpr const char* kFileProbeCommand = "__probe-files";
// Time limit of a probe when GENCAST_PROBE_TIMEOUT (seconds) is not set: far
// above a 0.25 degree input read on a slow disk, far below "forever".
inline constexpr double kDefaultProbeTimeoutSeconds = 300;
// Unless GENCAST_PROBE_TIMEOUT says otherwise, a probe gets
// kProbeBaseSeconds plus one second per kProbeBytesPerSecond of the files it
// reads (a 10 MB/s floor for an honest read on a slow disk), at most
// kDefaultProbeTimeoutSeconds: a small corrupt file that makes HDF5 loop for
// ever is refused within seconds, a 0.25 degree input still gets ~50 s.
inline constexpr double kProbeBaseSeconds = 10;
inline constexpr double kProbeBytesPerSecond = 10e6;

enum class FileProbeKind { stats, input };

struct FileProbeRequest {
  FileProbeKind kind = FileProbeKind::input;
  std::string checkpoint;          // the task (variables, levels) comes from its config
  std::vector<std::string> paths;  // {the statistics folder}, or the input file(s)
  std::string init_time;           // input only: ISO 8601, "" = latest usable
};

struct FileProbeOptions {
  // Seconds before the child counts as hung; <= 0 = kDefaultProbeTimeoutSeconds
  // or GENCAST_PROBE_TIMEOUT.
  double timeout_s = 0;
  // Called about every 100 ms while waiting. It may throw (an interrupted run):
  // the child is killed and the exception propagates.
  std::function<void()> poll;
  // The program to start; "" = this program (/proc/self/exe).
  std::string executable;
};

// The time limit that applies: options.timeout_s, else GENCAST_PROBE_TIMEOUT,
// else kDefaultProbeTimeoutSeconds. InputError for a malformed variable.
double file_probe_timeout(const FileProbeOptions& options, uint64_t probed_bytes = 0);

// A probe running in its child process: started by the constructor (so that
// the caller can do other work meanwhile), collected by wait().
class FileProbe {
 public:
  // RuntimeFailure when the child cannot be started.
  FileProbe(FileProbeRequest request, FileProbeOptions options = {});
  // Kills and reaps a child that is still running.
  ~FileProbe();
  FileProbe(const FileProbe&) = delete;
  FileProbe& operator=(const FileProbe&) = delete;

  // Waits for the child (at most the time limit) and adds what it found to
  // `problems`. RuntimeFailure when the child ended without an answer for
  // another reason than a crash (e.g. a main() that does not dispatch
  // kFileProbeCommand).
  void wait(ProblemList& problems);

 private:
  void stop_child() noexcept;

  FileProbeRequest request_;
  FileProbeOptions options_;
  double timeout_s_ = 0;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point started_;
  int out_fd_ = -1, err_fd_ = -1;  // the child's stdout (answers) and stderr
};

// Runs the probe and adds its problems (see FileProbe::wait).
void probe_files(const FileProbeRequest& request, ProblemList& problems,
                 const FileProbeOptions& options = {});

// True when argv asks for the probe's child side.
bool is_file_probe_command(int argc, char** argv);
// The child side: runs the check and writes its answer to stdout. Returns the
// process exit code.
int file_probe_child_main(int argc, char** argv);

}  // namespace gencast
