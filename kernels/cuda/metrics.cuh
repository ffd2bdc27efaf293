#pragma once
// One batch added to a loop's running totals in device memory (see kernels/metric_totals.h and
// Backend::accumulate_metrics). One small launch, no host round trip.
#include <cuda_runtime.h>

#include <cstdint>

namespace rf::gpu {

void accumulate_metrics(int64_t rows, int cols, const float* logits, const int32_t* labels,
                        const float* loss, double* totals, int64_t* confusion,
                        cudaStream_t stream);

}  // namespace rf::gpu
