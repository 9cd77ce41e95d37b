#include "io/frame_store.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/durable_file.h"

namespace gencast {

FrameStore::FrameStore(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw RuntimeFailure(dir_ + ": cannot create the state folder: " + ec.message());
}

std::string FrameStore::file(int64_t member_id, int64_t lead_hours) const {
  return dir_ + "/member-" + std::to_string(member_id) + "-lead-" + std::to_string(lead_hours) +
         "h.f32";
}

void FrameStore::write(int64_t member_id, int64_t lead_hours, const float* fields,
                       size_t count) const {
  write_file_durably(file(member_id, lead_hours), fields, count * sizeof(float));
}

bool FrameStore::read(int64_t member_id, int64_t lead_hours, float* fields, size_t count) const {
  const std::string path = file(member_id, lead_hours);
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) != count * sizeof(float) || ec) return false;
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(fields), static_cast<std::streamsize>(count * sizeof(float)));
  return static_cast<bool>(in);
}

void FrameStore::remove(int64_t member_id, int64_t lead_hours) const {
  std::remove(file(member_id, lead_hours).c_str());
}

}  // namespace gencast
