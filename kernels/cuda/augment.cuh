#pragma once
// A batch of augmented, normalized images on the GPU (AugmentBatch in kernels/augment_spec.h,
// Backend::augment_batch): each sample's parameters are drawn on the device from its key, so the
// host uploads only the indices. A sample whose index is outside [0, a.count) is written as NaN.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/augment_spec.h"

namespace rf::gpu {

void augment_batch(const AugmentBatch& a, const std::uint8_t* images, const int64_t* indices,
                   float* out, cudaStream_t stream);

}  // namespace rf::gpu
