// The device registry: turns a device name into a Backend. The one place
// that knows every backend implementation (the CPU reference in backend/, the
// CUDA backend in kernels/), so that layers below never depend on the CUDA
// target. A new device kind is a new backend target plus one branch here.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "config/device_name.h"
#include "config/precision.h"

namespace gencast {

// "cpu" or "cuda:N". Throws InputError for unknown devices, a GPU precision
// on the CPU, or a build without CUDA.
std::unique_ptr<Backend> make_backend(const std::string& device, Precision precision);
std::unique_ptr<Backend> make_backend(const DeviceName& device, Precision precision);

// Whether this build has the CUDA backend.
bool cuda_backend_built();

}  // namespace gencast
