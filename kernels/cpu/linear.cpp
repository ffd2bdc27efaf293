#include "kernels/cpu/linear.h"

#include <cblas.h>

#include <vector>

#include "kernels/cpu/reduce.h"

namespace rf::cpu {

void linear_forward(int n, int in, int out, const float* x, const float* w, const float* b,
                    float* y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.f, x, in, w, in, 0.f, y, out);
  if (!b) return;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < out; ++j) y[int64_t(i) * out + j] += b[j];
}

void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db) {
  if (dx)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.f, dy, out, w, in, 0.f,
                dx, in);
  if (dw)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.f, dy, out, x, in, 0.f, dw,
                in);
  if (db) {
    std::vector<double> sums(out);
    column_sums(n, out, dy, sums.data());
    for (int j = 0; j < out; ++j) db[j] = float(sums[j]);
  }
}

}  // namespace rf::cpu
