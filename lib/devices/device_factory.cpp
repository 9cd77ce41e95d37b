#include "devices/device_factory.h"

#include "backend/cpu_backend.h"
#include "core/error.h"

namespace gencast {

#if GENCAST_WITH_CUDA
// Defined in kernels/cuda_backend.cu (the gencast_cuda target).
std::unique_ptr<Backend> make_cuda_backend(int device, Precision precision);
int cuda_device_count_impl();
#endif

bool cuda_backend_built() { return GENCAST_WITH_CUDA; }

int cuda_device_count() {
#if GENCAST_WITH_CUDA
  return cuda_device_count_impl();
#else
  return 0;
#endif
}

std::vector<std::string> expand_devices(const std::vector<std::string>& devices) {
  if (devices.size() != 1 || devices[0] != kAllDevices) return devices;
  const int n = cuda_device_count();
  if (n == 0)
    fail_input("", "runtime.devices", "at least one usable CUDA GPU for 'all'",
               cuda_backend_built() ? "none (no driver or no device)" : "a build without CUDA",
               "name the devices instead, e.g. --devices cpu");
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("cuda:" + std::to_string(i));
  return out;
}

std::unique_ptr<Backend> make_backend(const DeviceName& device, Precision precision) {
  if (device.kind == DeviceName::Kind::cpu) {
    if (precision_info(precision).gpu_only)
      fail_input("", "precision", "fp32 on the cpu device", precision_name(precision),
                 "tf32 and bf16 are GPU precisions; use --device cuda:0");
    return std::make_unique<CpuBackend>();
  }
#if GENCAST_WITH_CUDA
  return make_cuda_backend(device.index, precision);
#else
  fail_input("", "device", "cpu (this build has no CUDA backend)", "'" + device.text() + "'",
             "rebuild with the CUDA toolkit installed (cmake -DGENCAST_CUDA=ON)");
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& device, Precision precision) {
  return make_backend(parse_device_name(device), precision);
}

}  // namespace gencast
