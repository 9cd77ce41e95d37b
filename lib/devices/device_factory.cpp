#include "devices/device_factory.h"

#include "backend/cpu_backend.h"
#include "core/error.h"

namespace gencast {

#if GENCAST_WITH_CUDA
// Defined in kernels/cuda_backend.cu (the gencast_cuda target).
std::unique_ptr<Backend> make_cuda_backend(int device, Precision precision);
int cuda_device_count_impl();
std::string cuda_unavailable_reason_impl();
void cuda_set_gemm_tuning_impl(bool enabled);
#endif

namespace {
bool g_gemm_tuning = false;  // set once by the CLI before any backend exists
}  // namespace

void set_gemm_tuning(bool enabled) {
  g_gemm_tuning = enabled;
#if GENCAST_WITH_CUDA
  cuda_set_gemm_tuning_impl(enabled);
#endif
}

bool gemm_tuning_enabled() { return g_gemm_tuning; }

bool cuda_backend_built() { return GENCAST_WITH_CUDA; }

int cuda_device_count() {
#if GENCAST_WITH_CUDA
  return cuda_device_count_impl();
#else
  return 0;
#endif
}

std::string gpu_unavailable_reason() {
#if GENCAST_WITH_CUDA
  return cuda_unavailable_reason_impl();
#else
  return "this build has no CUDA backend (nvcc was not found when it was configured)";
#endif
}

std::string resolve_auto_device() {
  return gpu_unavailable_reason().empty() ? std::string("cuda:0") : std::string("cpu");
}

std::vector<std::string> expand_devices(const std::vector<std::string>& devices) {
  if (devices.size() == 1 && devices[0] == kAutoDevice) return {resolve_auto_device()};
  if (devices.size() != 1 || devices[0] != kAllDevices) return devices;
  const std::string why = gpu_unavailable_reason();
  if (!why.empty())
    fail_input("", "runtime.devices", "at least one usable NVIDIA GPU for 'all'", "none: " + why,
               "name the devices instead, e.g. --devices cpu");
  std::vector<std::string> out;
  for (int i = 0, n = cuda_device_count(); i < n; ++i) out.push_back("cuda:" + std::to_string(i));
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
  fail_input("", "device", "cpu (" + gpu_unavailable_reason() + ")", "'" + device.text() + "'",
             "rebuild with the CUDA toolkit installed (cmake -DGENCAST_CUDA=ON), or run on "
             "the CPU with --device cpu");
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& device, Precision precision) {
  if (device == kAutoDevice) return make_backend(resolve_auto_device(), precision);
  return make_backend(parse_device_name(device), precision);
}

}  // namespace gencast
