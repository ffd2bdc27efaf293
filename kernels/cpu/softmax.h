#pragma once
// Row softmax and the fused softmax + soft-label cross-entropy (see engine/backend.h).
#include <cstdint>

namespace rf::cpu {

void softmax_forward(int64_t rows, int cols, const float* x, float* y);
void softmax_backward(int64_t rows, int cols, const float* y, const float* dy, float* dx);
// *loss = mean_i -sum_j t_ij log softmax(x_i)_j; dlogits (if not null) = (p * sum(t) - t) / rows.
void softmax_xent(int64_t rows, int cols, const float* logits, const float* targets, float* loss,
                  float* dlogits);

}  // namespace rf::cpu
