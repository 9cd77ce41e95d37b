// The device registry: turns a device name into a Backend. The one place
// that knows every backend implementation (the CPU reference in backend/, the
// CUDA backend in kernels/), so that layers below never depend on the CUDA
// target. A new device kind is a new backend target plus one branch here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/device_name.h"
#include "config/precision.h"

namespace gencast {

// "cpu" or "cuda:N". Throws InputError for unknown devices, a GPU precision
// on the CPU, or a build without CUDA.
std::unique_ptr<Backend> make_backend(const std::string& device, Precision precision);
std::unique_ptr<Backend> make_backend(const DeviceName& device, Precision precision);

// GEMM tuning (gencast-run --gemm-tuning; off by default): the CUDA backends
// made afterwards time cuBLASLt's candidate algorithms on the first call of
// each GEMM shape and keep the fastest (kernels/gemm.cuh). No effect on the
// CPU backend. gemm_tuning_enabled() reads the switch back.
void set_gemm_tuning(bool enabled);
bool gemm_tuning_enabled();

// Whether this build has the CUDA backend.
bool cuda_backend_built();
// CUDA devices usable by this process (0 in a CPU-only build).
int cuda_device_count();

// Why this process cannot use a GPU, in plain words ("this build has no CUDA
// backend", "no NVIDIA driver is loaded, ...", "the NVIDIA driver reports no
// GPU", ...); empty when at least one GPU is usable.
std::string gpu_unavailable_reason();

// runtime.device auto: "cuda:0" when a GPU is usable, else "cpu".
std::string resolve_auto_device();

// The workers' devices of a run (RuntimeSection::worker_devices): {"all"}
// becomes cuda:0 .. cuda:N-1 (InputError, field "runtime.devices", naming
// the cause when there is no usable GPU); {"auto"} becomes
// {resolve_auto_device()}. Other lists are returned as they are.
std::vector<std::string> expand_devices(const std::vector<std::string>& devices);

}  // namespace gencast
