#pragma once
// Batch normalization over NHWC data seen as `rows` x `c` (rows = n*h*w). Semantics as in
// engine/backend.h: batch statistics with the biased variance for normalizing, the unbiased one
// for the running average, saved mean and 1/sqrt(var + eps) for the backward pass.
#include <cstdint>

namespace rf::cpu {

void batchnorm_forward_train(int64_t rows, int c, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd);
void batchnorm_forward_eval(int64_t rows, int c, const float* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var,
                            float eps, float* y);
void batchnorm_backward(int64_t rows, int c, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta);

}  // namespace rf::cpu
