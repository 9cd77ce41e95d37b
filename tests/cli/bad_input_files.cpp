#include "cli/bad_input_files.h"

#include <zip.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

namespace gencast::testing {
namespace fs = std::filesystem;

void rewrite_npz(const std::string& src, const std::string& dst,
                 const std::function<bool(std::string& name, std::string& bytes)>& edit) {
  int err = 0;
  zip_t* in = zip_open(src.c_str(), ZIP_RDONLY, &err);
  if (!in) throw std::runtime_error("rewrite_npz: cannot open " + src);
  zip_t* out = zip_open(dst.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!out) throw std::runtime_error("rewrite_npz: cannot create " + dst);
  std::vector<std::unique_ptr<std::string>> keep;  // libzip reads the buffers at close
  const zip_int64_t n = zip_get_num_entries(in, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const auto idx = static_cast<zip_uint64_t>(i);
    zip_stat_t st;
    zip_stat_index(in, idx, 0, &st);
    std::string name = st.name;
    auto bytes = std::make_unique<std::string>(st.size, '\0');
    zip_file_t* f = zip_fopen_index(in, idx, 0);
    if (!f || zip_fread(f, bytes->data(), st.size) != static_cast<zip_int64_t>(st.size))
      throw std::runtime_error("rewrite_npz: cannot read " + name);
    zip_fclose(f);
    if (!edit(name, *bytes)) continue;
    zip_source_t* s = zip_source_buffer(out, bytes->data(), bytes->size(), 0);
    const zip_int64_t at = zip_file_add(out, name.c_str(), s, ZIP_FL_OVERWRITE);
    zip_set_file_compression(out, static_cast<zip_uint64_t>(at), ZIP_CM_STORE, 0);
    keep.push_back(std::move(bytes));
  }
  zip_discard(in);
  if (zip_close(out) != 0) throw std::runtime_error("rewrite_npz: cannot write " + dst);
}

size_t npy_data_offset(const std::string& npy) {
  const bool v1 = static_cast<unsigned char>(npy.at(6)) == 1;
  size_t len = static_cast<unsigned char>(npy.at(8)) | (static_cast<size_t>(static_cast<unsigned char>(npy.at(9))) << 8);
  if (!v1) len |= (static_cast<size_t>(static_cast<unsigned char>(npy.at(10))) << 16) |
                  (static_cast<size_t>(static_cast<unsigned char>(npy.at(11))) << 24);
  return (v1 ? 10 : 12) + len;
}

std::string npy_dict(const std::string& npy) {
  const size_t start = static_cast<unsigned char>(npy.at(6)) == 1 ? 10 : 12;
  return npy.substr(start, npy_data_offset(npy) - start);
}

std::string npy_with_dict(const std::string& npy, const std::string& dict) {
  std::string text = dict;
  while ((10 + text.size() + 1) % 64 != 0) text += ' ';
  text += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(text.size() & 0xff);
  out += static_cast<char>((text.size() >> 8) & 0xff);
  return out + text + npy.substr(npy_data_offset(npy));
}

uint64_t file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  uint64_t h = 1469598103934665603ull;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 1099511628211ull;
    }
  }
  return h;
}

std::map<std::string, uint64_t> folder_snapshot(const std::string& dir) {
  std::map<std::string, uint64_t> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    out[e.path().filename().string()] =
        e.is_regular_file() ? file_hash(e.path().string()) : uint64_t{1};
  return out;
}

}  // namespace gencast::testing
