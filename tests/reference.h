#pragma once
// Naive references for every op of the engine: plain loops over the definition, double
// accumulation, no cleverness. The backends are checked against these.
#include <cstdint>
#include <vector>

#include "kernels/shapes.h"

namespace rf::ref {

using Vec = std::vector<double>;

// The bfloat16 value nearest to v (8 significant bits, ties to even), for v zero or in float's
// normal range: written from the definition, independently of kernels/bfloat16.h.
double bf16_round(double v);

struct ConvGrads { Vec dx, dw, db; };
Vec conv2d_forward(const ConvGeom& g, const Vec& x, const Vec& w, const Vec* bias);
ConvGrads conv2d_backward(const ConvGeom& g, const Vec& x, const Vec& w, const Vec& dy);

struct BatchNormOut { Vec y, running_mean, running_var; };
BatchNormOut batchnorm_train(int64_t rows, int c, const Vec& x, const Vec& gamma, const Vec& beta,
                             double eps, double momentum, const Vec& running_mean,
                             const Vec& running_var);
Vec batchnorm_eval(int64_t rows, int c, const Vec& x, const Vec& gamma, const Vec& beta,
                   const Vec& running_mean, const Vec& running_var, double eps);
struct BatchNormGrads { Vec dx, dgamma, dbeta; };
BatchNormGrads batchnorm_backward(int64_t rows, int c, const Vec& x, const Vec& gamma,
                                  double eps, const Vec& dy);

Vec maxpool_forward(const PoolGeom& g, const Vec& x);
Vec maxpool_backward(const PoolGeom& g, const Vec& x, const Vec& dy);
Vec global_avgpool_forward(int n, int hw, int c, const Vec& x);
Vec global_avgpool_backward(int n, int hw, int c, const Vec& dy);

struct LinearGrads { Vec dx, dw, db; };
Vec linear_forward(int n, int in, int out, const Vec& x, const Vec& w, const Vec* b);
LinearGrads linear_backward(int n, int in, int out, const Vec& x, const Vec& w, const Vec& dy);

Vec softmax_forward(int64_t rows, int cols, const Vec& x);
Vec softmax_backward(int64_t rows, int cols, const Vec& x, const Vec& dy);
// Mean soft-label cross-entropy and its gradient with respect to the logits.
double softmax_xent(int64_t rows, int cols, const Vec& logits, const Vec& targets, Vec* dlogits);

// One optimizer step on double copies (same conventions as engine/backend.h).
void sgd_step(double lr, double momentum, double weight_decay, bool nesterov, Vec& param,
              const Vec& grad, Vec& velocity);
void adam_step(double lr, double beta1, double beta2, double eps, double weight_decay,
               bool decoupled, int step, Vec& param, const Vec& grad, Vec& m, Vec& v);

}  // namespace rf::ref
