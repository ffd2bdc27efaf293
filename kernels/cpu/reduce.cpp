#include "kernels/cpu/reduce.h"
#include "kernels/cpu/parallel.h"

#include <omp.h>

#include <cstddef>
#include <vector>

namespace rf::cpu {
namespace {

// f(i, j) is summed over i for each column j.
template <class F>
void reduce_columns(int64_t rows, int cols, double* out, F f) {
  const int threads = omp_get_max_threads();
  std::vector<double> part(std::size_t(threads) * cols, 0.0);
#pragma omp parallel num_threads(threads) if (rows * cols > kParallelMin)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = rows * t / nt, hi = rows * (t + 1) / nt;
    double* acc = part.data() + std::size_t(t) * cols;
    for (int64_t i = lo; i < hi; ++i)
      for (int j = 0; j < cols; ++j) acc[j] += f(i * cols + j);
  }
  for (int j = 0; j < cols; ++j) out[j] = 0.0;
  for (int t = 0; t < threads; ++t)
    for (int j = 0; j < cols; ++j) out[j] += part[std::size_t(t) * cols + j];
}

}  // namespace

void column_sums(int64_t rows, int cols, const float* a, double* out) {
  reduce_columns(rows, cols, out, [a](int64_t k) { return double(a[k]); });
}

void column_dot(int64_t rows, int cols, const float* a, const float* b, double* out) {
  reduce_columns(rows, cols, out, [a, b](int64_t k) { return double(a[k]) * b[k]; });
}

}  // namespace rf::cpu
