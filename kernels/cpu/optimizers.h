#pragma once
// Fused optimizer updates over a flat range of parameters (semantics in engine/backend.h).
#include <cstdint>

namespace rf::cpu {

void sgd_update(int64_t n, float lr, float momentum, float weight_decay, bool nesterov,
                float* param, const float* grad, float* velocity);
void adam_update(int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                 bool decoupled, int step, float* param, const float* grad, float* m, float* v);

}  // namespace rf::cpu
