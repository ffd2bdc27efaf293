#pragma once
// Column reductions of a row-major [rows, cols] matrix, the shape of every per-channel sum in an
// NHWC engine. Threads own fixed row blocks and their partials are added in thread order, so a
// result is bitwise identical from run to run for a given thread count.
#include <cstdint>

namespace rf::cpu {

// out[j] = sum_i a[i, j]
void column_sums(int64_t rows, int cols, const float* a, double* out);
// In one pass over memory, with a'[i, j] = a[i, j] where mask[i, j] > 0 (mask null: everywhere)
// and 0 elsewhere: sum[j] = sum_i a'[i, j] and dot[j] = sum_i a'[i, j] * b[i, j].
void column_sum_and_dot(int64_t rows, int cols, const float* a, const float* b,
                        const float* mask, double* sum, double* dot);

}  // namespace rf::cpu
