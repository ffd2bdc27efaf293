#include "kernels/cpu/bf16_convert.h"

#include "kernels/cpu/parallel.h"

namespace rf::cpu {

void widen(int64_t n, const BF16* x, float* y) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_float(x[i]);
}

void round_to_bf16(int64_t n, const float* x, BF16* y) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_bf16(x[i]);
}

void add_bias_bf16(int64_t rows, int k, const float* bias, BF16* y) {
#pragma omp parallel for if (rows * k > kParallelMin)
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < k; ++j) {
      BF16& v = y[r * k + j];
      v = float_to_bf16(bf16_to_float(v) + bias[j]);
    }
}

}  // namespace rf::cpu
