#pragma once
// Elementwise kernels over flat float or bf16 ranges. Any output may alias an input of the same
// op and type (the output of a cast or widen_add, of the other element size, may not overlap its
// bf16 input).
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/bfloat16.h"

namespace rf::gpu {

void fill(int64_t n, float value, float* y, cudaStream_t stream);
void add(int64_t n, const float* a, const float* b, float* y, cudaStream_t stream);  // y = a + b
void axpy(int64_t n, float alpha, const float* x, float* y, cudaStream_t stream);  // y += alpha x
void scale(int64_t n, float alpha, const float* x, float* y, cudaStream_t stream);  // y = alpha x
// y = (*alpha) x with alpha in device memory, so an upstream scalar gradient needs no host sync.
void scale_by(int64_t n, const float* alpha, const float* x, float* y, cudaStream_t stream);
void relu_forward(int64_t n, const float* x, float* y, cudaStream_t stream);
// dx = dy where y > 0, else 0.
void relu_backward(int64_t n, const float* y, const float* dy, float* dx, cudaStream_t stream);

// bf16 storage: computed in float from the widened values, stored rounded to the nearest even.
void cast(int64_t n, const float* x, BF16* y, cudaStream_t stream);
void cast(int64_t n, const BF16* x, float* y, cudaStream_t stream);  // exact
// y = (accumulate ? y : 0) + widened x: a bf16 filter gradient into its float32 gradient buffer.
void widen_add(int64_t n, const BF16* x, float* y, bool accumulate, cudaStream_t stream);
void add(int64_t n, const BF16* a, const BF16* b, BF16* y, cudaStream_t stream);
void relu_forward(int64_t n, const BF16* x, BF16* y, cudaStream_t stream);
void relu_backward(int64_t n, const BF16* y, const BF16* dy, BF16* dx, cudaStream_t stream);

}  // namespace rf::gpu
