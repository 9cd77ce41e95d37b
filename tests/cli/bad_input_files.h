// Test helpers for the bad-input catalogue (test_cli_bad_inputs.cpp): edited
// copies of .npz archives and .npy members, content hashes and folder
// snapshots (to prove that a failed run touched no input and left no output).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace gencast::testing {

// Copies the archive `src` to `dst`, member by member (stored, uncompressed);
// `edit` may rename a member or change its bytes, and returns false to drop it.
void rewrite_npz(const std::string& src, const std::string& dst,
                 const std::function<bool(std::string& name, std::string& bytes)>& edit);

// An .npy member with its header dict replaced by `dict` (e.g. "{'descr':
// '<f4', 'fortran_order': False, 'shape': (3,), }") and the data kept.
std::string npy_with_dict(const std::string& npy, const std::string& dict);
// The header dict of an .npy member, and the offset of its data.
std::string npy_dict(const std::string& npy);
size_t npy_data_offset(const std::string& npy);

// FNV-1a 64 of a file's bytes (0 when it cannot be read).
uint64_t file_hash(const std::string& path);
// Name -> hash of every regular file directly in `dir` (empty when it does not exist).
std::map<std::string, uint64_t> folder_snapshot(const std::string& dir);

}  // namespace gencast::testing
