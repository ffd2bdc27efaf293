#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cstring>

namespace rf::cpu {

void copy(size_t bytes, const void* src, void* dst) {
  constexpr size_t kChunk = size_t(1) << 20;
  const int64_t chunks = int64_t((bytes + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (bytes > 4 * kChunk)
  for (int64_t i = 0; i < chunks; ++i) {
    const size_t off = size_t(i) * kChunk;
    std::memcpy(static_cast<char*>(dst) + off, static_cast<const char*>(src) + off,
                std::min(kChunk, bytes - off));
  }
}

void fill(int64_t n, float value, float* y) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

void add(int64_t n, const float* a, const float* b, float* y) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void scale(int64_t n, float alpha, const float* x, float* y) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

void relu_forward(int64_t n, const float* x, float* y) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

void relu_backward(int64_t n, const float* y, const float* dy, float* dx) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}

}  // namespace rf::cpu
