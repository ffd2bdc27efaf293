#pragma once
// The differentiable ops of the engine. Each runs its forward on the backend of its inputs' device
// and records a closure that runs the matching backward kernels. Activations are NHWC
// ([n, h, w, c]), convolution filters KRSC ([k, r, s, c]).
#include "engine/variable.h"

namespace rf {

Variable add(const Variable& a, const Variable& b);  // float32 or bf16
Variable scale(const Variable& x, float alpha);
Variable relu(const Variable& x);  // float32 or bf16

// x as `to` (float32 <-> bf16, rounding to nearest even); its gradient comes back as x's type.
// x itself when it already is. The ops below take float32 or bf16 inputs where their comment says
// so (all inputs of one type, except batch norm's float32 parameters and statistics); the others
// are float32 only.
Variable cast(const Variable& x, DType to);

// x float32 or bf16, w float32 (a bf16 x is convolved with w rounded to bf16; w's gradient is
// float32 either way); bias (float32) may be an undefined Variable (no bias).
// The filter's and bias' gradients run as concurrent work (Backend::run_concurrently) when w and
// bias are leaves.
Variable conv2d(const Variable& x, const Variable& w, const Variable& bias, int stride, int pad);

// Batch norm over the channel (last) dimension. In training mode it normalizes with the batch
// statistics and updates running_mean / running_var in place; in eval mode it uses them. x (and
// residual) float32 or bf16.
Variable batchnorm(const Variable& x, const Variable& gamma, const Variable& beta,
                   Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                   float eps);
// relu(batchnorm(x) + residual) as one op (residual may be undefined: relu(batchnorm(x))), the
// epilogue of every ResNet layer: one pass over memory instead of three, forward and backward.
Variable batchnorm_relu(const Variable& x, const Variable& gamma, const Variable& beta,
                        Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                        float eps, const Variable& residual = Variable());

Variable maxpool2d(const Variable& x, int window, int stride, int pad);  // float32 or bf16
Variable global_avgpool(const Variable& x);  // [n, h, w, c] -> [n, c], float32 from either
Variable flatten(const Variable& x);          // [n, ...] -> [n, rest]

// y = x w^T + b; x [n, in], w [out, in], b [out] or undefined.
Variable linear(const Variable& x, const Variable& w, const Variable& b);

Variable softmax(const Variable& x);  // over the last dimension of [rows, cols]

// Mean over rows of the cross-entropy between softmax(logits) and target distributions (one-hot
// rows for hard labels), computed with its gradient in one fused pass. Returns a scalar.
Variable softmax_cross_entropy(const Variable& logits, const Tensor& targets);

}  // namespace rf
