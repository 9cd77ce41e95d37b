#include "io/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace gencast {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw RuntimeFailure(path + ": " + what + " failed: " + std::strerror(errno));
}

void fsync_path(const std::string& path, int flags, const char* what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("opening it to ") + what);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    fail(path, what);
  }
  ::close(fd);
}

}  // namespace

void fsync_file(const std::string& path) { fsync_path(path, O_RDONLY, "fsync"); }

void fsync_directory(const std::string& path) {
  fsync_path(path.empty() ? "." : path, O_RDONLY | O_DIRECTORY, "fsync of the folder");
}

void write_file_durably(const std::string& path, const void* bytes, size_t size) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(temp, "creating");
  const auto* p = static_cast<const char*>(bytes);
  size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      ::close(fd);
      ::unlink(temp.c_str());
      errno = err;
      fail(temp, "writing");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    errno = err;
    fail(temp, "fsync");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    errno = err;
    fail(path, "renaming " + temp + " to it");
  }
  fsync_directory(std::filesystem::path(path).parent_path().string());
}

}  // namespace gencast
