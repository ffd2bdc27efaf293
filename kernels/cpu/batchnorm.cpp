#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/reduce.h"

namespace rf::cpu {
namespace {

// y = epilogue((x - shift[c]) * a[c] + b[c]), the form every batch-norm forward reduces to. The
// shift is the mean (as a float): folding it into b instead, x * a - mean * a, cancels
// catastrophically in float when the mean is large against the spread (mean 1000, std 1: ~3e-5
// relative error), while x - shift is exact there (Sterbenz) and the rest is one rounding per
// operation.
void affine_rows(int64_t rows, int c, const float* x, const float* shift, const float* a,
                 const float* b, const float* residual, bool relu, float* y) {
#pragma omp parallel for schedule(static) if (rows * c > kParallelMin)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xi = x + i * c;
    float* yi = y + i * c;
    if (residual) {
      const float* ri = residual + i * c;
      for (int j = 0; j < c; ++j) yi[j] = std::max(0.f, (xi[j] - shift[j]) * a[j] + b[j] + ri[j]);
    } else if (relu) {
      for (int j = 0; j < c; ++j) yi[j] = std::max(0.f, (xi[j] - shift[j]) * a[j] + b[j]);
    } else {
      for (int j = 0; j < c; ++j) yi[j] = (xi[j] - shift[j]) * a[j] + b[j];
    }
  }
}

}  // namespace

void batchnorm_forward_train(int64_t rows, int c, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, const float* residual,
                             bool relu, float* running_mean, float* running_var, float* y,
                             float* save_mean, float* save_invstd) {
  std::vector<double> sum(c), sumsq(c);
  column_sum_and_dot(rows, c, x, x, nullptr, sum.data(), sumsq.data());
  std::vector<float> shift(c), a(c), b(c);
  for (int j = 0; j < c; ++j) {
    // Double sums of exact double products: E[x^2] - mean^2 loses ~1e-16 * E[x^2] / var, nothing
    // at any mean a float activation can hold.
    const double mean = sum[j] / rows;
    const double var = std::max(0.0, sumsq[j] / rows - mean * mean);
    const double invstd = 1.0 / std::sqrt(var + eps);
    save_mean[j] = float(mean);
    save_invstd[j] = float(invstd);
    shift[j] = float(mean);
    a[j] = float(gamma[j] * invstd);
    b[j] = float(beta[j] - (mean - shift[j]) * gamma[j] * invstd);
    const double unbiased = rows > 1 ? var * rows / (rows - 1) : var;
    running_mean[j] = float((1.0 - momentum) * running_mean[j] + momentum * mean);
    running_var[j] = float((1.0 - momentum) * running_var[j] + momentum * unbiased);
  }
  affine_rows(rows, c, x, shift.data(), a.data(), b.data(), residual, relu, y);
}

void batchnorm_forward_eval(int64_t rows, int c, const float* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var,
                            float eps, const float* residual, bool relu, float* y) {
  std::vector<float> a(c);
  for (int j = 0; j < c; ++j) a[j] = float(gamma[j] / std::sqrt(double(running_var[j]) + eps));
  affine_rows(rows, c, x, running_mean, a.data(), beta, residual, relu, y);
}

void batchnorm_backward(int64_t rows, int c, const float* x, const float* relu_y,
                        const float* dy, const float* gamma, const float* save_mean,
                        const float* save_invstd, float* dx, float* dresidual, float* dgamma,
                        float* dbeta, bool accumulate) {
  // With g = dy masked by the ReLU (dy itself without one) and xhat = (x - mean) * invstd:
  // dbeta = sum g, dgamma = sum g * xhat, and
  // dx = gamma * invstd * (g - dbeta / rows - xhat * dgamma / rows).
  std::vector<double> sum_g(c), sum_g_x(c);
  column_sum_and_dot(rows, c, dy, x, relu_y, sum_g.data(), sum_g_x.data());
  // dx = g * a + (x - mean) * b + d per channel, folding the three terms above; x - mean rather
  // than x * b + mean * b for the reason given at affine_rows.
  std::vector<float> a(c), b(c), d(c);
  for (int j = 0; j < c; ++j) {
    const double mean = save_mean[j], invstd = save_invstd[j];
    const double db = sum_g[j];
    const double dg = (sum_g_x[j] - mean * sum_g[j]) * invstd;
    dbeta[j] = accumulate ? dbeta[j] + float(db) : float(db);
    dgamma[j] = accumulate ? dgamma[j] + float(dg) : float(dg);
    const double k = gamma[j] * invstd;
    a[j] = float(k);
    b[j] = float(-k * dg * invstd / rows);
    d[j] = float(-k * db / rows);
  }
#pragma omp parallel for schedule(static) if (rows * c > kParallelMin)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xi = x + i * c;
    const float* dyi = dy + i * c;
    float* dxi = dx + i * c;
    if (relu_y) {
      const float* yi = relu_y + i * c;
      float* dri = dresidual ? dresidual + i * c : nullptr;
      for (int j = 0; j < c; ++j)
        dxi[j] = (yi[j] > 0.f ? dyi[j] : 0.f) * a[j] + (xi[j] - save_mean[j]) * b[j] + d[j];
      if (dri)
        for (int j = 0; j < c; ++j) dri[j] = yi[j] > 0.f ? dyi[j] : 0.f;
    } else {
      for (int j = 0; j < c; ++j) dxi[j] = dyi[j] * a[j] + (xi[j] - save_mean[j]) * b[j] + d[j];
    }
  }
}

}  // namespace rf::cpu
