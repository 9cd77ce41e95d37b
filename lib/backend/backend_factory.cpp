// make_backend: "cpu" or "cuda:N" -> a Backend.
#include <memory>
#include <string>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "core/error.h"

namespace gencast {

#if GENCAST_WITH_CUDA
// Defined in kernels/cuda_backend.cu.
std::unique_ptr<Backend> make_cuda_backend(int device, Precision precision);
#endif

std::unique_ptr<Backend> make_backend(const std::string& device, Precision precision) {
  if (device == "cpu") {
    if (precision != Precision::fp32)
      fail_input("", "precision", "fp32 on the cpu device", precision_name(precision),
                 "tf32 and bf16 are GPU precisions; use --device cuda:0");
    return std::make_unique<CpuBackend>();
  }
  if (device.rfind("cuda", 0) == 0) {
    int index = 0;
    if (device.size() > 4) {
      const std::string num = device.substr(device[4] == ':' ? 5 : 4);
      if (device[4] != ':' || num.empty() || num.find_first_not_of("0123456789") != std::string::npos)
        fail_input("", "device", "cpu or cuda:N", "'" + device + "'");
      index = std::stoi(num);
    }
#if GENCAST_WITH_CUDA
    return make_cuda_backend(index, precision);
#else
    (void)index;
    fail_input("", "device", "cpu (this build has no CUDA backend)", "'" + device + "'",
               "rebuild with the CUDA toolkit installed (cmake -DGENCAST_CUDA=ON)");
#endif
  }
  fail_input("", "device", "cpu or cuda:N", "'" + device + "'");
}

}  // namespace gencast
