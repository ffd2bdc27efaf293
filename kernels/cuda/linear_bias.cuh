#pragma once
// Bias broadcast and its gradient over a row-major [rows, cols] matrix. Serves the linear layer
// and, through NHWC, the convolution bias (rows = n * p * q, cols = k), in float32 or on bf16
// activations (computed in float, each stored element rounded once).
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/bfloat16.h"

namespace rf::gpu {

// y[r, j] += b[j]
void bias_add(int64_t rows, int cols, const float* b, float* y, cudaStream_t stream);
// y[r, j] = round(y[r, j] + b[j]): the bias of a bf16 convolution, added to its rounded output.
void bias_add(int64_t rows, int cols, const float* b, BF16* y, cudaStream_t stream);

// Device scratch column_sums needs, in bytes (0 when it needs none).
size_t column_sums_scratch_bytes(int64_t rows, int cols);
// out[j] = sum over r of x[r, j], overwritten, or with `accumulate` added to out[j] (one float
// addition of the finished sum: a bias gradient summed into its gradient buffer). Deterministic:
// fixed row chunks summed in a fixed order, no atomics.
void column_sums(int64_t rows, int cols, const float* x, float* out, bool accumulate,
                 void* scratch, cudaStream_t stream);
// The same sums of bf16 values, in float (a bf16 convolution's bias gradient).
void column_sums(int64_t rows, int cols, const BF16* x, float* out, bool accumulate,
                 void* scratch, cudaStream_t stream);

}  // namespace rf::gpu
