#include "io/output_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "core/error.h"
#include "io/partial_output.h"

namespace gencast {
namespace {

struct flock whole_file(short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;  // to the end, whatever the size
  fl.l_pid = 0;  // required by F_OFD_*
  return fl;
}

std::string read_holder(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text.empty() ? "another gencast-run (it has not written its PID yet)" : text;
}

std::string holder_text() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "?");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return "PID " + std::to_string(::getpid()) + " on host " + host + " since " + when;
}

[[noreturn]] void fail_errno(const std::string& path, const std::string& what) {
  throw RuntimeFailure(path + ": " + what + " failed: " + std::strerror(errno));
}

}  // namespace

OutputLock::OutputLock(const std::string& output) : path_(partial_output_paths(output).lock) {
  // A lock taken on a file that its previous holder unlinked meanwhile locks
  // nothing: retry until the locked file is the one the path names.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) fail_errno(path_, "creating the output's lock file");
    struct flock fl = whole_file(F_WRLCK);
    if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
      const int err = errno;
      if (err != EAGAIN && err != EACCES) {
        ::close(fd);
        errno = err;
        fail_errno(path_, "locking the output");
      }
      const std::string holder = read_holder(fd);
      ::close(fd);
      throw InputError(Problem{output, "output.path", "an output that no other run is writing",
                               "it is being written by " + holder + " (lock " + path_ + ")",
                               "wait for that run to end, or choose another output path"});
    }
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      fd_ = fd;
      break;
    }
    ::close(fd);
  }
  if (fd_ < 0) throw RuntimeFailure(path_ + ": could not lock the output (the lock file keeps being replaced)");
  holder_ = holder_text();
  const std::string text = holder_ + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) !=
                                      static_cast<ssize_t>(text.size())) {
    const int err = errno;
    ::unlink(path_.c_str());
    ::close(fd_);
    errno = err;
    fail_errno(path_, "writing the output's lock file");
  }
}

OutputLock::~OutputLock() {
  // Unlinked while still locked: a run that opened the old file and locks it
  // after this close sees that the path names another file and retries.
  ::unlink(path_.c_str());
  ::close(fd_);
}

std::optional<std::string> output_lock_holder(const std::string& output) {
  const std::string path = partial_output_paths(output).lock;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // no lock file: nobody holds it
  struct flock fl = whole_file(F_WRLCK);
  std::optional<std::string> holder;
  if (::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) holder = read_holder(fd);
  ::close(fd);
  return holder;
}

}  // namespace gencast
