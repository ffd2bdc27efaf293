#include "reference.h"

#include <cmath>
#include <limits>
#include <utility>

namespace rf::ref {
namespace {

int64_t nhwc(int h, int w, int c, int64_t n, int y, int x, int ch) {
  return ((n * h + y) * w + x) * c + ch;
}

// Mean and biased variance of channel j, two passes.
std::pair<double, double> channel_mean_var(int64_t rows, int c, const Vec& x, int j) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < rows; ++i) mean += x[i * c + j];
  mean /= rows;
  for (int64_t i = 0; i < rows; ++i) var += (x[i * c + j] - mean) * (x[i * c + j] - mean);
  return {mean, var / rows};
}

}  // namespace

double bf16_round(double v) {
  int e;
  const double m = std::frexp(v, &e);  // v = m * 2^e, 0.5 <= |m| < 1
  return std::ldexp(std::nearbyint(std::ldexp(m, 8)), e - 8);  // the default mode: ties to even
}

Vec conv2d_forward(const ConvGeom& g, const Vec& x, const Vec& w, const Vec* bias) {
  const int P = g.p(), Q = g.q();
  Vec y(g.y_size());
  for (int n = 0; n < g.n; ++n)
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q)
        for (int k = 0; k < g.k; ++k) {
          double acc = bias ? (*bias)[k] : 0.0;
          for (int r = 0; r < g.r; ++r)
            for (int s = 0; s < g.s; ++s) {
              const int ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              for (int c = 0; c < g.c; ++c)
                acc += x[nhwc(g.h, g.w, g.c, n, ih, iw, c)] * w[((int64_t(k) * g.r + r) * g.s + s) * g.c + c];
            }
          y[nhwc(P, Q, g.k, n, p, q, k)] = acc;
        }
  return y;
}

ConvGrads conv2d_backward(const ConvGeom& g, const Vec& x, const Vec& w, const Vec& dy) {
  const int P = g.p(), Q = g.q();
  ConvGrads out{Vec(g.x_size()), Vec(g.w_size()), Vec(g.k)};
  for (int n = 0; n < g.n; ++n)
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q)
        for (int k = 0; k < g.k; ++k) {
          const double d = dy[nhwc(P, Q, g.k, n, p, q, k)];
          out.db[k] += d;
          for (int r = 0; r < g.r; ++r)
            for (int s = 0; s < g.s; ++s) {
              const int ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              for (int c = 0; c < g.c; ++c) {
                const int64_t xi = nhwc(g.h, g.w, g.c, n, ih, iw, c);
                const int64_t wi = ((int64_t(k) * g.r + r) * g.s + s) * g.c + c;
                out.dx[xi] += d * w[wi];
                out.dw[wi] += d * x[xi];
              }
            }
        }
  return out;
}

BatchNormOut batchnorm_train(int64_t rows, int c, const Vec& x, const Vec& gamma, const Vec& beta,
                             double eps, double momentum, const Vec& running_mean,
                             const Vec& running_var) {
  BatchNormOut out{Vec(x.size()), running_mean, running_var};
  for (int j = 0; j < c; ++j) {
    const auto [mean, var] = channel_mean_var(rows, c, x, j);
    for (int64_t i = 0; i < rows; ++i)
      out.y[i * c + j] = (x[i * c + j] - mean) / std::sqrt(var + eps) * gamma[j] + beta[j];
    out.running_mean[j] = (1 - momentum) * running_mean[j] + momentum * mean;
    out.running_var[j] = (1 - momentum) * running_var[j] + momentum * var * rows / (rows - 1);
  }
  return out;
}

Vec batchnorm_eval(int64_t rows, int c, const Vec& x, const Vec& gamma, const Vec& beta,
                   const Vec& running_mean, const Vec& running_var, double eps) {
  Vec y(x.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int j = 0; j < c; ++j)
      y[i * c + j] = (x[i * c + j] - running_mean[j]) / std::sqrt(running_var[j] + eps) * gamma[j] +
                     beta[j];
  return y;
}

BatchNormGrads batchnorm_backward(int64_t rows, int c, const Vec& x, const Vec& gamma,
                                  double eps, const Vec& dy) {
  BatchNormGrads out{Vec(x.size()), Vec(c), Vec(c)};
  for (int j = 0; j < c; ++j) {
    const auto [mean, var] = channel_mean_var(rows, c, x, j);
    const double invstd = 1 / std::sqrt(var + eps);
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t i = 0; i < rows; ++i) {
      sum_dy += dy[i * c + j];
      sum_dy_xhat += dy[i * c + j] * (x[i * c + j] - mean) * invstd;
    }
    out.dbeta[j] = sum_dy;
    out.dgamma[j] = sum_dy_xhat;
    for (int64_t i = 0; i < rows; ++i) {
      const double xhat = (x[i * c + j] - mean) * invstd;
      out.dx[i * c + j] =
          gamma[j] * invstd * (dy[i * c + j] - sum_dy / rows - xhat * sum_dy_xhat / rows);
    }
  }
  return out;
}

namespace {

// Index into x of the first maximum of the window of output (n, p, q, ch).
int64_t pool_argmax(const PoolGeom& g, const Vec& x, int n, int p, int q, int ch) {
  int64_t best = -1;
  for (int r = 0; r < g.window; ++r)
    for (int s = 0; s < g.window; ++s) {
      const int ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
      if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
      const int64_t i = nhwc(g.h, g.w, g.c, n, ih, iw, ch);
      if (best < 0 || x[i] > x[best]) best = i;
    }
  return best;
}

}  // namespace

Vec maxpool_forward(const PoolGeom& g, const Vec& x) {
  Vec y(g.y_size());
  for (int n = 0; n < g.n; ++n)
    for (int p = 0; p < g.p(); ++p)
      for (int q = 0; q < g.q(); ++q)
        for (int ch = 0; ch < g.c; ++ch)
          y[nhwc(g.p(), g.q(), g.c, n, p, q, ch)] = x[pool_argmax(g, x, n, p, q, ch)];
  return y;
}

Vec maxpool_backward(const PoolGeom& g, const Vec& x, const Vec& dy) {
  Vec dx(x.size());
  for (int n = 0; n < g.n; ++n)
    for (int p = 0; p < g.p(); ++p)
      for (int q = 0; q < g.q(); ++q)
        for (int ch = 0; ch < g.c; ++ch)
          dx[pool_argmax(g, x, n, p, q, ch)] += dy[nhwc(g.p(), g.q(), g.c, n, p, q, ch)];
  return dx;
}

Vec global_avgpool_forward(int n, int hw, int c, const Vec& x) {
  Vec y(int64_t(n) * c);
  for (int i = 0; i < n; ++i)
    for (int ch = 0; ch < c; ++ch) {
      double acc = 0;
      for (int k = 0; k < hw; ++k) acc += x[(int64_t(i) * hw + k) * c + ch];
      y[int64_t(i) * c + ch] = acc / hw;
    }
  return y;
}

Vec global_avgpool_backward(int n, int hw, int c, const Vec& dy) {
  Vec dx(int64_t(n) * hw * c);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < hw; ++k)
      for (int ch = 0; ch < c; ++ch) dx[(int64_t(i) * hw + k) * c + ch] = dy[int64_t(i) * c + ch] / hw;
  return dx;
}

Vec linear_forward(int n, int in, int out, const Vec& x, const Vec& w, const Vec* b) {
  Vec y(int64_t(n) * out);
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < out; ++o) {
      double acc = b ? (*b)[o] : 0.0;
      for (int k = 0; k < in; ++k) acc += x[int64_t(i) * in + k] * w[int64_t(o) * in + k];
      y[int64_t(i) * out + o] = acc;
    }
  return y;
}

LinearGrads linear_backward(int n, int in, int out, const Vec& x, const Vec& w, const Vec& dy) {
  LinearGrads g{Vec(int64_t(n) * in), Vec(int64_t(out) * in), Vec(out)};
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < out; ++o) {
      const double d = dy[int64_t(i) * out + o];
      g.db[o] += d;
      for (int k = 0; k < in; ++k) {
        g.dx[int64_t(i) * in + k] += d * w[int64_t(o) * in + k];
        g.dw[int64_t(o) * in + k] += d * x[int64_t(i) * in + k];
      }
    }
  return g;
}

Vec softmax_forward(int64_t rows, int cols, const Vec& x) {
  Vec y(x.size());
  for (int64_t i = 0; i < rows; ++i) {
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (int j = 0; j < cols; ++j) m = std::max(m, x[i * cols + j]);
    for (int j = 0; j < cols; ++j) s += std::exp(x[i * cols + j] - m);
    for (int j = 0; j < cols; ++j) y[i * cols + j] = std::exp(x[i * cols + j] - m) / s;
  }
  return y;
}

Vec softmax_backward(int64_t rows, int cols, const Vec& x, const Vec& dy) {
  const Vec y = softmax_forward(rows, cols, x);
  Vec dx(x.size());
  // Full Jacobian: dy_j/dx_k = y_j (delta_jk - y_k).
  for (int64_t i = 0; i < rows; ++i)
    for (int k = 0; k < cols; ++k) {
      double acc = 0;
      for (int j = 0; j < cols; ++j)
        acc += dy[i * cols + j] * y[i * cols + j] * ((j == k) - y[i * cols + k]);
      dx[i * cols + k] = acc;
    }
  return dx;
}

double softmax_xent(int64_t rows, int cols, const Vec& logits, const Vec& targets, Vec* dlogits) {
  const Vec p = softmax_forward(rows, cols, logits);
  double loss = 0;
  if (dlogits) dlogits->assign(logits.size(), 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    double tsum = 0;
    for (int j = 0; j < cols; ++j) {
      loss -= targets[i * cols + j] * std::log(p[i * cols + j]);
      tsum += targets[i * cols + j];
    }
    if (dlogits)
      for (int j = 0; j < cols; ++j)
        (*dlogits)[i * cols + j] = (p[i * cols + j] * tsum - targets[i * cols + j]) / rows;
  }
  return loss / rows;
}

void sgd_step(double lr, double momentum, double weight_decay, bool nesterov, Vec& param,
              const Vec& grad, Vec& velocity) {
  for (size_t i = 0; i < param.size(); ++i) {
    const double g = grad[i] + weight_decay * param[i];
    velocity[i] = momentum * velocity[i] + g;
    param[i] -= lr * (nesterov ? g + momentum * velocity[i] : velocity[i]);
  }
}

void adam_step(double lr, double beta1, double beta2, double eps, double weight_decay,
               bool decoupled, int step, Vec& param, const Vec& grad, Vec& m, Vec& v) {
  for (size_t i = 0; i < param.size(); ++i) {
    if (decoupled) param[i] *= 1 - lr * weight_decay;
    const double g = grad[i] + (decoupled ? 0.0 : weight_decay * param[i]);
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const double mhat = m[i] / (1 - std::pow(beta1, step));
    const double vhat = v[i] / (1 - std::pow(beta2, step));
    param[i] -= lr * mhat / (std::sqrt(vhat) + eps);
  }
}

}  // namespace rf::ref
