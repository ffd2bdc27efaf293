#pragma once
// Fused optimizer steps, one pass over a flat range of parameters (PyTorch formulas).
#include <cuda_runtime.h>

#include <cstdint>

namespace rf::gpu {

struct SgdStep {
  float lr, momentum, weight_decay;
  bool nesterov;
};

// g = grad + wd * param; v = momentum * v + g; update = nesterov ? g + momentum * v : v;
// param -= lr * update. Without a velocity buffer (momentum 0) update = g.
void sgd_update(int64_t n, const SgdStep& s, float* param, const float* grad, float* velocity,
                cudaStream_t stream);

// Host-side constants of one Adam step; see adam_step().
struct AdamStep {
  float beta1, beta2, eps, weight_decay;
  bool decoupled;
  float step_size;  // lr / (1 - beta1^step)
  float bc2_sqrt;   // sqrt(1 - beta2^step)
  float decay;      // 1 - lr * weight_decay (AdamW)
};

// Fills the derived constants from the hyper-parameters and the 1-based step.
AdamStep adam_step(float lr, float beta1, float beta2, float eps, float weight_decay,
                   bool decoupled, int step);

// AdamW (decoupled): param *= decay first; Adam: g = grad + wd * param. Then
// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// param -= step_size * m / (sqrt(v) / bc2_sqrt + eps).
void adam_update(int64_t n, const AdamStep& s, float* param, const float* grad, float* m,
                 float* v, cudaStream_t stream);

}  // namespace rf::gpu
