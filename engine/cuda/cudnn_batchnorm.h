#pragma once
// Batch norm over NHWC activations through cuDNN's spatial batch norm. The activation is
// described to cuDNN as what it is, an NHWC tensor (n, c, h, w); semantics as Backend's.
#include <cudnn.h>

#include "kernels/shapes.h"

namespace rf {

void cudnn_batchnorm_forward_train(cudnnHandle_t h, const BnGeom& g, const float* x,
                                   const float* gamma, const float* beta, float eps,
                                   float momentum, float* running_mean, float* running_var,
                                   float* y, float* save_mean, float* save_invstd);
void cudnn_batchnorm_forward_eval(cudnnHandle_t h, const BnGeom& g, const float* x,
                                  const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float eps, float* y);
void cudnn_batchnorm_backward(cudnnHandle_t h, const BnGeom& g, const float* x, const float* dy,
                              const float* gamma, const float* save_mean, const float* save_invstd,
                              float eps, float* dx, float* dgamma, float* dbeta,
                              bool accumulate);

}  // namespace rf
