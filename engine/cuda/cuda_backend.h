#pragma once
// The CUDA backend: cuDNN for convolutions and the plain batch norm, cuBLAS for the linear layer,
// our own kernels (kernels/cuda) for everything else, the fused batch norm + ReLU included, all
// queued on one non-default stream, except work passed to run_concurrently, which runs on a
// second one (engine/cuda/cuda_lane.h).
#include <cstddef>
#include <string>

#include "engine/backend.h"
#include "engine/profiler.h"

namespace rf {

// True when a CUDA device is present and usable by this binary. Never throws: without a driver
// or device it returns false and, when why_not is given, says why.
bool cuda_probe(std::string* why_not);

// The backend, constructed on first use (call cuda_probe first). cuBLAS and cuDNN handles are
// created on the first op that needs them.
Backend& cuda_backend_instance();
// Its profiler::DeviceTimer (CUDA events on its stream, engine/cuda/cuda_device_timer.h).
profiler::DeviceTimer& cuda_backend_timer();

// Page-locked host memory for the data loader's staging buffers (faster host-device copies).
void* cuda_pinned_alloc(size_t bytes);
void cuda_pinned_free(void* p);

// One line for benchmark headers: device, SMs, memory, driver/runtime/cuBLAS/cuDNN versions.
std::string cuda_device_description();

}  // namespace rf
