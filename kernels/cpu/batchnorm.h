#pragma once
// Batch normalization over NHWC data seen as `rows` x `c` (rows = n*h*w), with the ResNet
// epilogue fused in: y = relu(bn(x) + residual) when `relu` is set (residual may be null), plain
// y = bn(x) otherwise. Semantics as in engine/backend.h: batch statistics with the biased
// variance for normalizing, the unbiased one for the running average, saved mean and
// 1/sqrt(var + eps) for the backward pass. Fusing saves a whole write and read of the
// activation and of its gradient per epilogue op, on a path that is bound by memory.
#include <cstdint>

namespace rf::cpu {

void batchnorm_forward_train(int64_t rows, int c, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, const float* residual,
                             bool relu, float* running_mean, float* running_var, float* y,
                             float* save_mean, float* save_invstd);
void batchnorm_forward_eval(int64_t rows, int c, const float* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var,
                            float eps, const float* residual, bool relu, float* y);
// relu_y: the forward's output when it ended in a ReLU (its gradient is then dy where
// relu_y > 0, else 0), null for a plain batch norm. dresidual (may be null) gets that masked
// gradient, which is the residual input's. dx is overwritten; dgamma and dbeta are overwritten,
// or with `accumulate` added to.
void batchnorm_backward(int64_t rows, int c, const float* x, const float* relu_y,
                        const float* dy, const float* gamma, const float* save_mean,
                        const float* save_invstd, float* dx, float* dresidual, float* dgamma,
                        float* dbeta, bool accumulate);

}  // namespace rf::cpu
