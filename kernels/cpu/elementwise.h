#pragma once
// Elementwise CPU kernels: pure functions on raw pointers.
#include <cstddef>
#include <cstdint>

namespace rf::cpu {

// memcpy split across threads: one core alone cannot saturate memory bandwidth.
void copy(size_t bytes, const void* src, void* dst);
void fill(int64_t n, float value, float* y);
void add(int64_t n, const float* a, const float* b, float* y);
void axpy(int64_t n, float alpha, const float* x, float* y);
void scale(int64_t n, float alpha, const float* x, float* y);
void relu_forward(int64_t n, const float* x, float* y);
void relu_backward(int64_t n, const float* y, const float* dy, float* dx);

}  // namespace rf::cpu
