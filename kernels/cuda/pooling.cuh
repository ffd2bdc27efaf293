#pragma once
// Pooling over NHWC activations, float32 or bf16: bf16 values are compared and summed in float,
// and each stored element is rounded once to the nearest even (a maximum stays exact).
#include <cuda_runtime.h>

#include "kernels/bfloat16.h"
#include "kernels/shapes.h"

namespace rf::gpu {

// Padding acts as -infinity (it never wins).
void maxpool_forward(const PoolGeom& g, const float* x, float* y, cudaStream_t stream);
// Each window's gradient goes to its first maximum in row-major window order. Computed as a
// gather (one thread per input element, recomputing the argmax of every window that covers it),
// so it is deterministic and overwrites dx.
void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx,
                      cudaStream_t stream);
// y[n, c] = mean over the hw positions of x[n, :, c].
void global_avgpool_forward(int n, int hw, int c, const float* x, float* y, cudaStream_t stream);
void global_avgpool_backward(int n, int hw, int c, const float* dy, float* dx,
                             cudaStream_t stream);

void maxpool_forward(const PoolGeom& g, const BF16* x, BF16* y, cudaStream_t stream);
void maxpool_backward(const PoolGeom& g, const BF16* x, const BF16* dy, BF16* dx,
                      cudaStream_t stream);
// The pooled features leave bf16: y and dy are float32.
void global_avgpool_forward(int n, int hw, int c, const BF16* x, float* y, cudaStream_t stream);
void global_avgpool_backward(int n, int hw, int c, const float* dy, BF16* dx,
                             cudaStream_t stream);

}  // namespace rf::gpu
