#include "kernels/cpu/softmax.h"
#include "kernels/cpu/parallel.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace rf::cpu {
namespace {

// Max and log of the sum of exp(x - max): the numerically safe pieces of a row's log-softmax.
void row_logsumexp(int cols, const float* x, float* max_out, float* log_sum_out) {
  float m = x[0];
  for (int j = 1; j < cols; ++j) m = x[j] > m ? x[j] : m;
  double s = 0.0;
  for (int j = 0; j < cols; ++j) s += std::exp(double(x[j] - m));
  *max_out = m;
  *log_sum_out = float(std::log(s));
}

}  // namespace

void softmax_forward(int64_t rows, int cols, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t i = 0; i < rows; ++i) {
    float m, ls;
    row_logsumexp(cols, x + i * cols, &m, &ls);
    for (int j = 0; j < cols; ++j) y[i * cols + j] = std::exp(x[i * cols + j] - m - ls);
  }
}

void softmax_backward(int64_t rows, int cols, const float* y, const float* dy, float* dx) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t i = 0; i < rows; ++i) {
    double dot = 0.0;
    for (int j = 0; j < cols; ++j) dot += double(dy[i * cols + j]) * y[i * cols + j];
    for (int j = 0; j < cols; ++j)
      dx[i * cols + j] = y[i * cols + j] * (dy[i * cols + j] - float(dot));
  }
}

void softmax_xent(int64_t rows, int cols, const float* logits, const float* targets, float* loss,
                  float* dlogits) {
  // Per-thread partial losses over fixed row blocks, added in thread order: deterministic.
  const int threads = omp_get_max_threads();
  std::vector<double> part(threads, 0.0);
  const float inv_rows = 1.f / float(rows);
#pragma omp parallel num_threads(threads) if (rows * cols > kParallelMin)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = rows * t / nt, hi = rows * (t + 1) / nt;
    double acc = 0.0;
    std::vector<float> e(static_cast<size_t>(cols));
    for (int64_t i = lo; i < hi; ++i) {
      const float* x = logits + i * cols;
      const float* tr = targets + i * cols;
      // One exp per element: e_j = exp(x_j - max); log p_j = x_j - max - log(sum e).
      float m = x[0];
      for (int j = 1; j < cols; ++j) m = x[j] > m ? x[j] : m;
      double sum = 0.0, tsum = 0.0, t_dot_shifted = 0.0;
      for (int j = 0; j < cols; ++j) {
        e[j] = std::exp(x[j] - m);
        sum += e[j];
        tsum += tr[j];
        t_dot_shifted += double(tr[j]) * (x[j] - m);
      }
      const double log_sum = std::log(sum);
      acc += tsum * log_sum - t_dot_shifted;  // -sum_j t_j (x_j - m - log_sum)
      if (dlogits) {
        const float scale = float(tsum / sum) * inv_rows;
        for (int j = 0; j < cols; ++j)
          dlogits[i * cols + j] = e[j] * scale - tr[j] * inv_rows;
      }
    }
    part[t] = acc;
  }
  double total = 0.0;
  for (double p : part) total += p;
  *loss = float(total / double(rows));
}

}  // namespace rf::cpu
