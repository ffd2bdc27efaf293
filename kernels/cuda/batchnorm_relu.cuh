#pragma once
// Batch norm + optional residual add + ReLU over NHWC data seen as a row-major [rows, c] matrix
// (rows = n*h*w, channels contiguous), fused: y = relu(bn(x) + residual), residual may be null.
// Semantics are those of engine/backend.h and kernels/cpu/batchnorm.cpp: batch statistics with
// the biased variance for normalizing, running = (1 - momentum) * running + momentum * batch with
// the unbiased variance, save_mean and save_invstd = 1 / sqrt(var + eps) for the backward.
//
// Deterministic: every sum runs in a fixed order (per-block partials, then a fixed-order merge),
// with no atomics, so identical inputs at identical alignment give identical bits. Outputs may
// alias inputs of the same shape (every element is read, then written, by one thread).
//
// The activations may be bf16 (kernels/bfloat16.h): the same kernels widen what they load to
// float and round what they store to the nearest even; statistics, parameters and their gradients
// stay float32.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/bfloat16.h"

namespace rf::gpu {

// Device scratch the training forward and the backward need (per-block partial sums), for every
// function below, bf16 and plain included.
size_t batchnorm_relu_scratch_bytes(int64_t rows, int c);

void batchnorm_relu_forward_train(int64_t rows, int c, const float* x, const float* residual,
                                  const float* gamma, const float* beta, float eps,
                                  float momentum, float* running_mean, float* running_var,
                                  float* y, float* save_mean, float* save_invstd, void* scratch,
                                  cudaStream_t stream);

void batchnorm_relu_forward_eval(int64_t rows, int c, const float* x, const float* residual,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, float eps, float* y,
                                 cudaStream_t stream);

// y is the forward's output: the batch norm's gradient is dy where y > 0, else 0, and that masked
// gradient is also the residual's, written to dresidual when not null. dx is overwritten; dgamma
// and dbeta too, or with `accumulate` each float-rounded gradient is added to what they hold.
void batchnorm_relu_backward(int64_t rows, int c, const float* x, const float* y, const float* dy,
                             const float* gamma, const float* save_mean, const float* save_invstd,
                             float* dx, float* dresidual, float* dgamma, float* dbeta,
                             bool accumulate, void* scratch, cudaStream_t stream);

void batchnorm_relu_forward_train(int64_t rows, int c, const BF16* x, const BF16* residual,
                                  const float* gamma, const float* beta, float eps,
                                  float momentum, float* running_mean, float* running_var,
                                  BF16* y, float* save_mean, float* save_invstd, void* scratch,
                                  cudaStream_t stream);
void batchnorm_relu_forward_eval(int64_t rows, int c, const BF16* x, const BF16* residual,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, float eps, BF16* y,
                                 cudaStream_t stream);
void batchnorm_relu_backward(int64_t rows, int c, const BF16* x, const BF16* y, const BF16* dy,
                             const float* gamma, const float* save_mean, const float* save_invstd,
                             BF16* dx, BF16* dresidual, float* dgamma, float* dbeta,
                             bool accumulate, void* scratch, cudaStream_t stream);

// The plain batch norm on bf16, y = bn(x), with the same kernels minus the residual and the ReLU
// (the backward's gradient is dy itself). Float32's plain batch norm is cuDNN's.
void batchnorm_forward_train(int64_t rows, int c, const BF16* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, BF16* y, float* save_mean, float* save_invstd,
                             void* scratch, cudaStream_t stream);
void batchnorm_forward_eval(int64_t rows, int c, const BF16* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var,
                            float eps, BF16* y, cudaStream_t stream);
void batchnorm_backward(int64_t rows, int c, const BF16* x, const BF16* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, BF16* dx, float* dgamma,
                        float* dbeta, bool accumulate, void* scratch, cudaStream_t stream);

}  // namespace rf::gpu
