#pragma once
// Bias broadcast and its gradient over a row-major [rows, cols] matrix. Serves the linear layer
// and, through NHWC, the convolution bias (rows = n * p * q, cols = k).
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace rf::gpu {

// y[r, j] += b[j]
void bias_add(int64_t rows, int cols, const float* b, float* y, cudaStream_t stream);

// Device scratch column_sums needs, in bytes (0 when it needs none).
size_t column_sums_scratch_bytes(int64_t rows, int cols);
// out[j] = sum over r of x[r, j], overwritten. Deterministic: fixed row chunks summed in a fixed
// order, no atomics.
void column_sums(int64_t rows, int cols, const float* x, float* out, void* scratch,
                 cudaStream_t stream);

}  // namespace rf::gpu
