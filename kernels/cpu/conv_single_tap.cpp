#include "kernels/cpu/conv_single_tap.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/reduce.h"

namespace rf::cpu {

void single_tap_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                        float* y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.n, g.k, g.c, 1.f, x, g.c,
              w + g.tap_offset(), g.tap_stride(), 0.f, y, g.k);
  if (!bias) return;
  for (int i = 0; i < g.n; ++i)
    for (int j = 0; j < g.k; ++j) y[int64_t(i) * g.k + j] += bias[j];
}

void single_tap_backward_data(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.n, g.c, g.k, 1.f, dy, g.k,
              w + g.tap_offset(), g.tap_stride(), 0.f, dx, g.c);
}

void single_tap_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* dw,
                                float* dbias) {
  std::fill(dw, dw + g.w_size(), 0.f);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.k, g.c, g.n, 1.f, dy, g.k, x, g.c, 0.f,
              dw + g.tap_offset(), g.tap_stride());
  if (!dbias) return;
  std::vector<double> sums(size_t(g.k));
  column_sums(g.n, g.k, dy, sums.data());
  for (int j = 0; j < g.k; ++j) dbias[j] = float(sums[size_t(j)]);
}

}  // namespace rf::cpu
