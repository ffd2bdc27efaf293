#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/parallel.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/reduce.h"

namespace rf::cpu {
namespace {

// y = (x - shift[c]) * a[c] + b[c], the form every batch-norm pass reduces to. The shift is the
// mean (as a float): folding it into b instead, x * a - mean * a, cancels catastrophically in
// float when the mean is large against the spread (mean 1000, std 1: ~3e-5 relative error),
// while x - shift is exact there (Sterbenz) and the rest is one rounding per operation.
void affine_rows(int64_t rows, int c, const float* x, const float* shift, const float* a,
                 const float* b, float* y) {
#pragma omp parallel for schedule(static) if (rows * c > kParallelMin)
  for (int64_t i = 0; i < rows; ++i)
    for (int j = 0; j < c; ++j) y[i * c + j] = (x[i * c + j] - shift[j]) * a[j] + b[j];
}

}  // namespace

void batchnorm_forward_train(int64_t rows, int c, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd) {
  std::vector<double> sum(c), sumsq(c);
  column_sums(rows, c, x, sum.data());
  column_dot(rows, c, x, x, sumsq.data());
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
  affine_rows(rows, c, x, shift.data(), a.data(), b.data(), y);
}

void batchnorm_forward_eval(int64_t rows, int c, const float* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var,
                            float eps, float* y) {
  std::vector<float> a(c);
  for (int j = 0; j < c; ++j) a[j] = float(gamma[j] / std::sqrt(double(running_var[j]) + eps));
  affine_rows(rows, c, x, running_mean, a.data(), beta, y);
}

void batchnorm_backward(int64_t rows, int c, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta) {
  // With xhat = (x - mean) * invstd: dbeta = sum dy, dgamma = sum dy * xhat, and
  // dx = gamma * invstd * (dy - dbeta / rows - xhat * dgamma / rows).
  std::vector<double> sum_dy(c), sum_dy_x(c);
  column_sums(rows, c, dy, sum_dy.data());
  column_dot(rows, c, dy, x, sum_dy_x.data());
  // dx = dy * a + (x - mean) * b + d per channel, folding the three terms above; x - mean rather
  // than x * b + mean * b for the reason given at affine_rows.
  std::vector<float> a(c), b(c), d(c);
  for (int j = 0; j < c; ++j) {
    const double mean = save_mean[j], invstd = save_invstd[j];
    const double db = sum_dy[j];
    const double dg = (sum_dy_x[j] - mean * sum_dy[j]) * invstd;
    dbeta[j] = float(db);
    dgamma[j] = float(dg);
    const double k = gamma[j] * invstd;
    a[j] = float(k);
    b[j] = float(-k * dg * invstd / rows);
    d[j] = float(-k * db / rows);
  }
#pragma omp parallel for schedule(static) if (rows * c > kParallelMin)
  for (int64_t i = 0; i < rows; ++i)
    for (int j = 0; j < c; ++j)
      dx[i * c + j] = dy[i * c + j] * a[j] + (x[i * c + j] - save_mean[j]) * b[j] + d[j];
}

}  // namespace rf::cpu
