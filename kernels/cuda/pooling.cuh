#pragma once
// Pooling over NHWC activations.
#include <cuda_runtime.h>

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

}  // namespace rf::gpu
