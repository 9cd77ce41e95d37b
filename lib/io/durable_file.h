// Making files survive a kill -9 or a power loss: data reaches the disk
// (fsync) before anything that claims it is there, and a file is replaced
// whole or not at all (written beside, fsync'd, renamed, folder fsync'd).
// Every failure is a RuntimeFailure naming the file and the errno text.
#pragma once

#include <cstddef>
#include <string>

namespace gencast {

// fsync of a file written through another descriptor (Linux writes back
// every dirty page of the inode, whichever descriptor wrote it).
void fsync_file(const std::string& path);
// fsync of a folder: makes the creation, rename or removal of its entries durable.
void fsync_directory(const std::string& path);
// Replaces `path` by `bytes` atomically and durably: after a crash it holds
// either its old content or the new one, never a mix.
void write_file_durably(const std::string& path, const void* bytes, size_t size);

}  // namespace gencast
