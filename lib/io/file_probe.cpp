// The file probe (see file_probe.h): the parent starts this program again
// with posix_spawn and reads its answer from a pipe; the child runs the
// statistics or input check and writes one line per finding.
//
// Protocol (child stdout, one record per line, fields tab-separated, with
// '\\', tab and newline escaped):
//   open <path> <library>              a reader is about to open <path> (open_observer.h)
//   problem <file> <field> <expected> <found> <hint>
//   error <text>                       the check failed outside the library
//   done                               the check finished
// The child's stderr goes to a second pipe: its last line (glibc's
// "free(): invalid pointer", a sanitizer report) explains a crash.
#include "io/file_probe.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "io/checkpoint_reader.h"
#include "io/initial_conditions.h"
#include "io/open_observer.h"
#include "io/npz.h"
#include "io/stats.h"

extern char** environ;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GENCAST_PROBE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define GENCAST_PROBE_SANITIZED 1
#endif
#endif

namespace gencast {
namespace {

// The child's address space: a 0.25 degree input read needs about 1 GB; a
// file declaring absurd sizes fails allocating (an error, reported) instead of
// taking the machine's memory. Sanitizers reserve terabytes of shadow memory,
// so they run without it.
[[maybe_unused]] constexpr rlim_t kChildAddressSpaceBytes = rlim_t{16} << 30;
// The stderr text kept for the crash message.
constexpr size_t kMaxStderrBytes = 16384;
constexpr int kChildErrorExit = 3;

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    out += c == 't' ? '\t' : c == 'n' ? '\n' : c;
  }
  return out;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    out.push_back(unescape(line.substr(start, tab - start)));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

// ---- child side ------------------------------------------------------------

// One record on stdout, written with write(2) so that it is out before a crash.
void emit(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) line += '\t';
    line += escape(fields[i]);
  }
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) std::_Exit(kChildErrorExit);  // the parent is gone
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void report_open(const std::string& path, const char* library) { emit({"open", path, library}); }

void emit_problems(const std::vector<Problem>& problems) {
  for (const auto& p : problems) emit({"problem", p.file, p.field, p.expected, p.found, p.hint});
}

// Test hook: GENCAST_PROBE_SELFTEST=crash|hang makes the child crash or hang
// after opening the first file, standing in for a library bug.
void selftest_after_open(const std::string& path, const char* library) {
  report_open(path, library);
  const char* mode = std::getenv("GENCAST_PROBE_SELFTEST");
  if (mode && std::strcmp(mode, "crash") == 0) std::abort();
  if (mode && std::strcmp(mode, "hang") == 0)
    while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// ---- parent side -----------------------------------------------------------

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The last non-empty line of the child's stderr, for the crash message.
std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\n\r ");
  if (end == std::string::npos) return {};
  const size_t start = text.rfind('\n', end);
  std::string line = text.substr(start == std::string::npos ? 0 : start + 1,
                                 end + 1 - (start == std::string::npos ? 0 : start + 1));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

// What to do about a file the library could not read, by library.
std::string corrupt_hint(const std::string& library) {
  const bool grib = library.find("GRIB") != std::string::npos;
  return std::string("the file is corrupt or truncated: re-download or re-export it (") +
         (grib ? "`grib_ls FILE` should list every message"
               : "`ncdump -h FILE` should list its variables, `ncdump FILE > /dev/null` reads "
                 "every value") +
         ")";
}

}  // namespace

double file_probe_timeout(const FileProbeOptions& options, uint64_t probed_bytes) {
  if (options.timeout_s > 0) return options.timeout_s;
  if (const char* env = std::getenv("GENCAST_PROBE_TIMEOUT"); env && *env) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(v > 0) || v > 1e6)
      fail_input("environment", "GENCAST_PROBE_TIMEOUT", "a number of seconds > 0",
                 std::string("'") + env + "'");
    return v;
  }
  return std::min(kDefaultProbeTimeoutSeconds,
                  kProbeBaseSeconds + static_cast<double>(probed_bytes) / kProbeBytesPerSecond);
}

FileProbe::FileProbe(FileProbeRequest request, FileProbeOptions options)
    : request_(std::move(request)), options_(std::move(options)) {
  // What the child will read: the input files, or the statistics folder's files.
  uint64_t probed_bytes = 0;
  for (const std::string& path : request_.paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(path, ec))
        if (entry.is_regular_file(ec)) probed_bytes += entry.file_size(ec);
    } else if (const auto size = std::filesystem::file_size(path, ec); !ec) {
      probed_bytes += size;
    }
  }
  timeout_s_ = file_probe_timeout(options_, probed_bytes);
  const std::string exe = options_.executable.empty() ? "/proc/self/exe" : options_.executable;
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      if (fd >= 0) ::close(fd);
    throw RuntimeFailure(std::string("cannot start the file probe: pipe: ") +
                         std::strerror(err));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  // Its own process group: Ctrl-C reaches the parent only, which then stops
  // the child itself (a child killed by SIGINT would look like a crash).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  const std::string kind = request_.kind == FileProbeKind::stats ? "stats" : "input";
  std::vector<std::string> args = {exe, kFileProbeCommand, kind, request_.checkpoint,
                                   request_.init_time};
  args.insert(args.end(), request_.paths.begin(), request_.paths.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // glibc writes its fatal messages ("free(): invalid pointer") to the
  // terminal unless told to use stderr, which is our pipe.
  std::vector<std::string> env_text;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "LIBC_FATAL_STDERR_=", 19) != 0) env_text.emplace_back(*e);
  env_text.emplace_back("LIBC_FATAL_STDERR_=1");
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int rc = posix_spawn(&pid_, exe.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    pid_ = -1;
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw RuntimeFailure("cannot start the file probe (" + exe + "): " +
                         std::strerror(rc) +
                         "; runtime.probe_inputs: false (--no-probe) reads the files without it");
  }
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  started_ = std::chrono::steady_clock::now();
}

FileProbe::~FileProbe() { stop_child(); }

void FileProbe::stop_child() noexcept {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  for (int* fd : {&out_fd_, &err_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void FileProbe::wait(ProblemList& problems) {
  if (pid_ <= 0) throw std::logic_error("FileProbe::wait called twice");
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s_);
  std::string out, err;
  bool timed_out = false;
  int status = 0;
  bool exited = false;
  try {
    // Read both pipes until the child closes them, then reap it.
    while (true) {
      if (options_.poll) options_.poll();
      if (Clock::now() >= deadline) {
        timed_out = true;
        break;
      }
      if (out_fd_ < 0 && err_fd_ < 0) {
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
          exited = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      pollfd fds[2];
      nfds_t n = 0;
      for (int fd : {out_fd_, err_fd_})
        if (fd >= 0) fds[n++] = pollfd{fd, POLLIN, 0};
      const int ready = ::poll(fds, n, 100);
      if (ready < 0 && errno != EINTR)
        throw RuntimeFailure(std::string("file probe: poll: ") + std::strerror(errno));
      for (nfds_t i = 0; ready > 0 && i < n; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[65536];
        const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        int& fd = fds[i].fd == out_fd_ ? out_fd_ : err_fd_;
        if (got <= 0) {
          ::close(fd);
          fd = -1;
          continue;
        }
        if (fds[i].fd == out_fd_) {
          out.append(buf, static_cast<size_t>(got));
        } else {
          err.append(buf, static_cast<size_t>(got));
          if (err.size() > 2 * kMaxStderrBytes) err.erase(0, err.size() - kMaxStderrBytes);
        }
      }
    }
  } catch (...) {
    stop_child();
    throw;
  }
  if (exited) {
    pid_ = -1;
  } else {
    stop_child();  // timed out
  }

  // The answer so far.
  std::string last_open, library = "NetCDF/HDF5";
  std::vector<Problem> found;
  std::string error;
  bool done = false;
  size_t start = 0;
  while (start < out.size()) {
    const size_t nl = out.find('\n', start);
    if (nl == std::string::npos) break;  // a record cut by a crash
    const std::vector<std::string> f = split_tabs(out.substr(start, nl - start));
    start = nl + 1;
    if (f[0] == "open" && f.size() == 3) {
      last_open = f[1];
      library = f[2];
    }
    else if (f[0] == "problem" && f.size() == 6) found.push_back({f[1], f[2], f[3], f[4], f[5]});
    else if (f[0] == "error" && f.size() == 2) error = f[1];
    else if (f[0] == "done") done = true;
  }
  // The file the library was reading when it failed: the last one opened.
  const std::string file = !last_open.empty()        ? last_open
                           : request_.paths.empty() ? std::string()
                                                    : request_.paths.front();
  const std::string expected = "a file the " + library + " library can read";
  if (timed_out) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3g", timeout_s_);
    problems.add(file, "", expected,
                 "the " + library + " library hung reading it (no answer in " + secs +
                     " s): the file is corrupt or truncated",
                 corrupt_hint(library) +
                     "; a very slow disk may need a longer limit: GENCAST_PROBE_TIMEOUT=SECONDS");
    return;
  }
  if (WIFSIGNALED(status)) {
    const std::string why = last_line(err);
    problems.add(file, "", expected,
                 "the " + library + " library crashed reading it (" + signal_text(WTERMSIG(status)) +
                     (why.empty() ? "" : ": " + why) + "): the file is corrupt or truncated",
                 corrupt_hint(library));
    return;
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 0 && done) {
    spdlog::debug("file probe: {} checked in a child process in {:.2f} s ({} problem(s))",
                  file,
                  std::chrono::duration<double>(Clock::now() - started_).count(), found.size());
    for (auto& p : found) problems.add(std::move(p));
    return;
  }
  if (code == kChildErrorExit && !error.empty()) {
    problems.add(file, "", expected, "a failure reading it (" + error + ")",
                 corrupt_hint(library));
    return;
  }
  throw RuntimeFailure("the file probe of " + file + " ended without an answer" +
                       " (exit " + std::to_string(code) + ")" +
                       (err.empty() ? std::string() : ": " + last_line(err)));
}

void probe_files(const FileProbeRequest& request, ProblemList& problems,
                 const FileProbeOptions& options) {
  FileProbe probe(request, options);
  probe.wait(problems);
}

bool is_file_probe_command(int argc, char** argv) {
  return argc > 1 && std::strcmp(argv[1], kFileProbeCommand) == 0;
}

int file_probe_child_main(int argc, char** argv) {
  // Dies with its parent (a killed forecast leaves no probe behind).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
#ifndef GENCAST_PROBE_SANITIZED
  const rlimit limit{kChildAddressSpaceBytes, kChildAddressSpaceBytes};
  ::setrlimit(RLIMIT_AS, &limit);
#endif
  if (argc < 6) {
    emit({"error", "usage: " + std::string(kFileProbeCommand) +
                       " stats|input CHECKPOINT INIT_TIME PATH..."});
    return kChildErrorExit;
  }
  const std::string kind = argv[2], checkpoint = argv[3], init_time = argv[4];
  const std::vector<std::string> paths(argv + 5, argv + argc);
  set_file_open_observer(std::getenv("GENCAST_PROBE_SELFTEST") ? selftest_after_open
                                                               : report_open);
  try {
    TaskConfig task;
    try {
      task = read_model_config(NpzReader(checkpoint)).task;
    } catch (const InputError&) {
      // The caller reports an unreadable checkpoint itself and reads no file.
      emit({"done"});
      return 0;
    }
    ProblemList problems;
    if (kind == "stats") {
      check_stats(paths.front(), task, problems);
    } else if (kind == "input") {
      check_initial_conditions(paths, task, init_time, problems);
    } else {
      emit({"error", "unknown probe kind '" + kind + "'"});
      return kChildErrorExit;
    }
    emit_problems(problems.problems());
  } catch (const InputError& e) {
    emit_problems(e.problems());
  } catch (const std::bad_alloc&) {
    emit({"error", "out of memory: the file declares sizes far beyond a real input"});
    return kChildErrorExit;
  } catch (const std::exception& e) {
    emit({"error", e.what()});
    return kChildErrorExit;
  }
  emit({"done"});
  return 0;
}

}  // namespace gencast
