#pragma once
// Conversions between float32 and bf16 storage (kernels/bfloat16.h), for the CPU backend's bf16
// ops: each widens its bf16 inputs, runs its float32 kernel and rounds what it stores.
#include <cstdint>

#include "kernels/bfloat16.h"

namespace rf::cpu {

void widen(int64_t n, const BF16* x, float* y);              // exact
void round_to_bf16(int64_t n, const float* x, BF16* y);      // to nearest even
// y[i] = round(y[i] + bias[i % k]): a bias added to already rounded convolution outputs.
void add_bias_bf16(int64_t rows, int k, const float* bias, BF16* y);

}  // namespace rf::cpu
