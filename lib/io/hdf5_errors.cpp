#include "io/hdf5_errors.h"

#include <hdf5.h>

namespace gencast {

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string hdf5_error_text() {
  std::string text;
  auto walk = [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
    if (n == 0 && err != nullptr && err->desc != nullptr) *static_cast<std::string*>(data) = err->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk, &text);
  H5Eclear2(H5E_DEFAULT);
  // System call failures carry "..., error message = 'No space left on device', ...".
  const std::string key = "error message = '";
  if (const size_t at = text.find(key); at != std::string::npos) {
    const size_t begin = at + key.size();
    const size_t end = text.find('\'', begin);
    if (end != std::string::npos) return text.substr(begin, end - begin);
  }
  return text.empty() ? "unknown HDF5 error" : text;
}

}  // namespace gencast
