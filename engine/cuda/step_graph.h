#pragma once
// CUDA graphs for Backend::record: the work queued on one stream between begin and end of a
// capture, instantiated once and launched as one unit.
#include <cuda_runtime.h>

#include <functional>
#include <memory>

#include "engine/backend.h"

namespace rf {

std::unique_ptr<StepGraph> record_cuda_graph(cudaStream_t stream, const std::function<void()>& work);

}  // namespace rf
