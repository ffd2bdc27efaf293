#include "kernels/cpu/optimizers.h"
#include "kernels/cpu/parallel.h"

#include <cmath>

namespace rf::cpu {

void sgd_update(int64_t n, float lr, float momentum, float weight_decay, bool nesterov,
                float* param, const float* grad, float* velocity) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] + weight_decay * param[i];
    const float v = momentum * velocity[i] + g;
    velocity[i] = v;
    param[i] -= lr * (nesterov ? g + momentum * v : v);
  }
}

void adam_update(int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                 bool decoupled, int step, float* param, const float* grad, float* m, float* v) {
  const float bc1 = 1.f - std::pow(beta1, float(step));
  const float bc2 = 1.f - std::pow(beta2, float(step));
  const float step_size = lr / bc1;
  const float inv_sqrt_bc2 = 1.f / std::sqrt(bc2);
  const float l2 = decoupled ? 0.f : weight_decay;
  const float shrink = decoupled ? 1.f - lr * weight_decay : 1.f;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] + l2 * param[i];
    const float mi = beta1 * m[i] + (1.f - beta1) * g;
    const float vi = beta2 * v[i] + (1.f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * shrink - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

}  // namespace rf::cpu
