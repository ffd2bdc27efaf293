#pragma once
// Max pooling and global average pooling over NHWC data.
#include "kernels/shapes.h"

namespace rf::cpu {

void maxpool_forward(const PoolGeom& g, const float* x, float* y);
// The gradient of each window goes to its first maximum in row-major window order.
void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx);
void global_avgpool_forward(int n, int hw, int c, const float* x, float* y);
void global_avgpool_backward(int n, int hw, int c, const float* dy, float* dx);

}  // namespace rf::cpu
