#pragma once
// Row-wise softmax over a row-major [rows, cols] matrix. Outputs may alias inputs.
#include <cuda_runtime.h>

#include <cstdint>

namespace rf::gpu {

void softmax_forward(int64_t rows, int cols, const float* x, float* y, cudaStream_t stream);
// dx = y * (dy - sum(dy * y)) per row.
void softmax_backward(int64_t rows, int cols, const float* y, const float* dy, float* dx,
                      cudaStream_t stream);

}  // namespace rf::gpu
