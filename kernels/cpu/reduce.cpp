#include "kernels/cpu/reduce.h"
#include "kernels/cpu/parallel.h"

#include <omp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rf::cpu {
namespace {

// For each column j, f(i * cols + j, acc + j, acc + cols + j) adds row i's terms into `outputs`
// accumulators per column (the second at acc + cols).
template <int outputs, class F>
void reduce_columns(int64_t rows, int cols, double* out, F f) {
  const int threads = omp_get_max_threads();
  const std::size_t width = std::size_t(outputs) * cols;
  // Each thread's accumulators start on a cache line of their own: every row adds into all of
  // them, so a line shared by two threads would bounce between their cores on every row (the
  // batch norm's statistics ran 2x slower when an allocation happened to place them so).
  constexpr std::size_t kLine = 64 / sizeof(double);
  const std::size_t stride = (width + kLine - 1) / kLine * kLine;
  std::vector<double> storage(std::size_t(threads) * stride + kLine, 0.0);
  double* const part = reinterpret_cast<double*>(
      (reinterpret_cast<std::uintptr_t>(storage.data()) + 63) / 64 * 64);
#pragma omp parallel num_threads(threads) if (rows * cols > kParallelMin)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = rows * t / nt, hi = rows * (t + 1) / nt;
    double* acc = part + std::size_t(t) * stride;
    for (int64_t i = lo; i < hi; ++i) f(i * cols, acc);
  }
  for (std::size_t j = 0; j < width; ++j) out[j] = 0.0;
  for (int t = 0; t < threads; ++t)
    for (std::size_t j = 0; j < width; ++j) out[j] += part[std::size_t(t) * stride + j];
}

}  // namespace

void column_sums(int64_t rows, int cols, const float* a, double* out) {
  reduce_columns<1>(rows, cols, out, [=](int64_t row, double* acc) {
    for (int j = 0; j < cols; ++j) acc[j] += double(a[row + j]);
  });
}

void column_sum_and_dot(int64_t rows, int cols, const float* a, const float* b,
                        const float* mask, double* sum, double* dot) {
  std::vector<double> out(2 * std::size_t(cols));
  if (mask) {
    reduce_columns<2>(rows, cols, out.data(), [=](int64_t row, double* acc) {
      for (int j = 0; j < cols; ++j) {
        // Both loads unconditional, then a select: this the compiler vectorizes; a load under
        // the condition it compiles to a branch, mispredicted at every other ReLU (10x slower).
        const float aj = a[row + j], keep = float(mask[row + j] > 0.f);
        const double v = aj * keep;
        acc[j] += v;
        acc[cols + j] += v * b[row + j];
      }
    });
  } else {
    reduce_columns<2>(rows, cols, out.data(), [=](int64_t row, double* acc) {
      for (int j = 0; j < cols; ++j) {
        const double v = a[row + j];
        acc[j] += v;
        acc[cols + j] += v * b[row + j];
      }
    });
  }
  for (int j = 0; j < cols; ++j) {
    sum[j] = out[j];
    dot[j] = out[cols + j];
  }
}

}  // namespace rf::cpu
