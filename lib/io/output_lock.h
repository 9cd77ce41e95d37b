// One run per output path: a forecast holds an advisory lock on OUT.lock
// (io/partial_output.h) from before it loads anything until it ends, so that
// a second run to the same path is refused at once instead of both writing
// OUT.partial. The lock file names its holder (PID, host, start time) for
// the refusal message.
//
// Why an open-file-description lock (fcntl F_OFD_SETLK, Linux's fcntl form
// of flock): like flock it belongs to the open file and disappears with the
// process, however it ends (kill -9 included), so a lock is never stale; unlike
// flock it can be tested without taking it (F_OFD_GETLK), so check-config
// can report a running writer without ever making that writer's own attempt
// fail. On NFS both are served by the server's byte-range locks.
#pragma once

#include <optional>
#include <string>

namespace gencast {

class OutputLock {
 public:
  // Takes the lock of `output` without waiting. InputError (exit 2) naming
  // the PID and host of the run holding it; RuntimeFailure when the lock
  // file cannot be created (the message names it and the errno text).
  explicit OutputLock(const std::string& output);
  // Removes the lock file and releases the lock.
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  // "PID 123 on host h since ...": what the lock file says about this run.
  const std::string& holder() const { return holder_; }

 private:
  std::string path_, holder_;
  int fd_ = -1;
};

// "PID 123 on host h since 2024-05-01T10:00:00Z" for the run holding the lock
// of `output`, or nullopt when nobody holds it. Never takes the lock.
std::optional<std::string> output_lock_holder(const std::string& output);

}  // namespace gencast
