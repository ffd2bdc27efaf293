#include "op_cases.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>
#include <random>

#include "engine/ops.h"
#include "tolerance.h"

namespace rf::test {
std::vector<float> uniform(int64_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

namespace {

using ref::Vec;

Vec to_vec(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

// Values bounded away from zero, so that a finite-difference step never crosses ReLU's kink.
std::vector<float> away_from_zero(int64_t n, unsigned seed) {
  std::vector<float> v = uniform(n, seed, 0.2f, 1.f);
  std::mt19937 rng(seed + 1);
  for (float& x : v)
    if (rng() & 1) x = -x;
  return v;
}

// Distinct values 0.05 apart in random order: a max-pool window has one clear maximum, which a
// finite-difference step cannot overtake.
std::vector<float> distinct(int64_t n, unsigned seed) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::shuffle(idx.begin(), idx.end(), std::mt19937(seed));
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = 0.05f * float(idx[i] - n / 2);
  return v;
}

Tensor on(Device d, const std::vector<float>& v, const Shape& s) { return Tensor::from_host(v, s, d); }

OpCase conv_case(int n, int h, int w, int c, int k, int r, int stride, int pad, bool bias,
                 const std::string& what) {
  const ConvGeom g{n, h, w, c, k, r, r, stride, pad};
  OpCase oc;
  oc.op = "conv2d";
  oc.shape = what + ": x[" + std::to_string(n) + "," + std::to_string(h) + "," +
             std::to_string(w) + "," + std::to_string(c) + "] w[" + std::to_string(k) + "," +
             std::to_string(r) + "," + std::to_string(r) + "," + std::to_string(c) + "] s" +
             std::to_string(stride) + " p" + std::to_string(pad) + (bias ? " +bias" : "");
  oc.input_shapes = {{n, h, w, c}, {k, r, r, c}};
  oc.inputs = {uniform(g.x_size(), 1), uniform(g.w_size(), 2, -0.5f, 0.5f)};
  if (bias) {
    oc.input_shapes.push_back({k});
    oc.inputs.push_back(uniform(k, 3));
  }
  oc.forward = [stride, pad, bias](std::vector<Variable>& in, Device, Extras&) {
    return conv2d(in[0], in[1], bias ? in[2] : Variable(), stride, pad);
  };
  oc.reference = [g, bias](const std::vector<Vec>& in, const Vec& dy) {
    RefOut out;
    out.y = ref::conv2d_forward(g, in[0], in[1], bias ? &in[2] : nullptr);
    ref::ConvGrads gr = ref::conv2d_backward(g, in[0], in[1], dy);
    out.grads = {gr.dx, gr.dw};
    if (bias) out.grads.push_back(gr.db);
    return out;
  };
  oc.gpu_tol = 1e-5;
  // Forward and backward-data sum r*s*c and r*s*k products, backward-filter n*p*q.
  oc.tf32_reduction =
      std::max({int64_t(r) * r * c, int64_t(r) * r * k, int64_t(n) * g.p() * g.q()});
  return oc;
}

// `mean`: the inputs are mean + 3 * uniform(-1, 1). A large mean checks how the variance is
// computed: E[x^2] - mean^2 in float would lose it to cancellation.
OpCase batchnorm_case(const Shape& xs, bool training, float mean = 1.5f) {
  const int c = int(xs.back());
  const int64_t rows = shape_numel(xs) / c;
  const float eps = 1.001e-5f, momentum = 0.01f;
  const std::vector<float> rmean = uniform(c, 11, -0.2f, 0.2f), rvar = uniform(c, 12, 0.5f, 2.f);
  OpCase oc;
  oc.op = "batchnorm";
  oc.shape = std::string(training ? "train" : "eval") + " x" + shape_str(xs) +
             (mean != 1.5f ? " mean " + std::to_string(int(mean)) : "");
  oc.input_shapes = {xs, {c}, {c}};
  // An offset and scale per case, so that the mean and variance are far from 0 and 1.
  std::vector<float> x = uniform(shape_numel(xs), 13);
  for (float& v : x) v = 3.f * v + mean;
  oc.inputs = {x, uniform(c, 14, 0.5f, 1.5f), uniform(c, 15)};
  oc.backward = training;
  oc.forward = [=](std::vector<Variable>& in, Device d, Extras& extras) {
    Tensor rm = on(d, rmean, {c}), rv = on(d, rvar, {c});
    extras["running_mean"] = rm;
    extras["running_var"] = rv;
    if (training) return batchnorm(in[0], in[1], in[2], rm, rv, true, momentum, eps);
    NoGrad no_grad;
    return batchnorm(in[0], in[1], in[2], rm, rv, false, momentum, eps);
  };
  oc.reference = [=](const std::vector<Vec>& in, const Vec& dy) {
    RefOut out;
    if (!training) {
      out.y = ref::batchnorm_eval(rows, c, in[0], in[1], in[2], to_vec(rmean), to_vec(rvar), eps);
      out.extras = {{"running_mean", to_vec(rmean)}, {"running_var", to_vec(rvar)}};
      return out;
    }
    ref::BatchNormOut f = ref::batchnorm_train(rows, c, in[0], in[1], in[2], eps, momentum,
                                               to_vec(rmean), to_vec(rvar));
    ref::BatchNormGrads g = ref::batchnorm_backward(rows, c, in[0], in[1], eps, dy);
    out.y = f.y;
    out.grads = {g.dx, g.dgamma, g.dbeta};
    out.extras = {{"running_mean", f.running_mean}, {"running_var", f.running_var}};
    return out;
  };
  oc.gpu_tol = 1e-4;
  // The backward gets the batch mean as a float (Backend's save_mean, as cuDNN's): rounded by up
  // to 3e-5 at mean 1000, i.e. 2e-5 of this input's spread, which every xhat of the backward
  // inherits. The reference uses the exact mean.
  if (training && mean >= 1000.f) oc.ref_tol = 5e-5;
  return oc;
}

// relu(batchnorm(x) + residual) (residual optional). For the gradient check, no output may sit
// near the ReLU's kink: each channel's rows come in pairs (v, -v) with |v| >= 0.2, so the batch
// mean is exactly 0 and bn(x) = gamma * x / std keeps x's sign and size; beta is 0 and the
// residual has x's sign, so |bn(x) + residual| >= 0.2 * gamma / std, far beyond any step.
// `kinked`: random beta and residual instead (real-size cases, no gradient check). `mean` is added
// to every x: the same signs and gradients, and a check of how the variance is computed.
OpCase batchnorm_relu_case(const Shape& xs, bool training, bool residual, bool kinked = false,
                           float mean = 0.f) {
  const int c = int(xs.back());
  const int64_t rows = shape_numel(xs) / c;
  const float eps = 1.001e-5f, momentum = 0.01f;
  const std::vector<float> rmean = uniform(c, 21, -0.2f, 0.2f), rvar = uniform(c, 22, 0.5f, 2.f);
  OpCase oc;
  oc.op = "batchnorm_relu";
  oc.shape = std::string(training ? "train" : "eval") + " x" + shape_str(xs) +
             (residual ? " + residual" : "") +
             (mean != 0.f ? " mean " + std::to_string(int(mean)) : "");
  oc.input_shapes = {xs, {c}, {c}};
  std::vector<float> x = away_from_zero(shape_numel(xs), 23);
  std::vector<float> beta(c, 0.f);
  std::vector<float> r;
  if (kinked) {
    beta = uniform(c, 24);
    if (residual) r = uniform(shape_numel(xs), 25);
  } else {
    for (int64_t i = rows / 2; i < 2 * (rows / 2); ++i)
      for (int j = 0; j < c; ++j) x[i * c + j] = -x[(i - rows / 2) * c + j];
    if (rows % 2) std::fill(x.end() - c, x.end(), 0.f);  // an odd row out: exactly the mean
    if (residual) {
      r = uniform(shape_numel(xs), 25, 0.f, 0.5f);
      for (size_t i = 0; i < r.size(); ++i) r[i] = x[i] < 0.f ? -r[i] : r[i];
    }
  }
  for (float& v : x) v += mean;
  oc.inputs = {x, uniform(c, 26, 0.5f, 1.5f), beta};
  if (residual) {
    oc.input_shapes.push_back(xs);
    oc.inputs.push_back(r);
  }
  oc.backward = training;
  oc.forward = [=](std::vector<Variable>& in, Device d, Extras& extras) {
    Tensor rm = on(d, rmean, {c}), rv = on(d, rvar, {c});
    extras["running_mean"] = rm;
    extras["running_var"] = rv;
    const Variable res = residual ? in[3] : Variable();
    if (training) return batchnorm_relu(in[0], in[1], in[2], rm, rv, true, momentum, eps, res);
    NoGrad no_grad;
    return batchnorm_relu(in[0], in[1], in[2], rm, rv, false, momentum, eps, res);
  };
  oc.reference = [=](const std::vector<Vec>& in, const Vec& dy) {
    RefOut out;
    Vec z;
    if (training) {
      ref::BatchNormOut f = ref::batchnorm_train(rows, c, in[0], in[1], in[2], eps, momentum,
                                                 to_vec(rmean), to_vec(rvar));
      z = f.y;
      out.extras = {{"running_mean", f.running_mean}, {"running_var", f.running_var}};
    } else {
      z = ref::batchnorm_eval(rows, c, in[0], in[1], in[2], to_vec(rmean), to_vec(rvar), eps);
      out.extras = {{"running_mean", to_vec(rmean)}, {"running_var", to_vec(rvar)}};
    }
    Vec masked(dy.size());
    for (size_t i = 0; i < z.size(); ++i) {
      if (residual) z[i] += in[3][i];
      z[i] = std::max(0.0, z[i]);
      masked[i] = z[i] > 0 ? dy[i] : 0.0;
    }
    out.y = z;
    if (training) {
      ref::BatchNormGrads g = ref::batchnorm_backward(rows, c, in[0], in[1], eps, masked);
      out.grads = {g.dx, g.dgamma, g.dbeta};
      if (residual) out.grads.push_back(masked);
    }
    return out;
  };
  oc.gpu_tol = 1e-4;
  return oc;
}

OpCase maxpool_case(const Shape& xs, int window, int stride, int pad) {
  const PoolGeom g{int(xs[0]), int(xs[1]), int(xs[2]), int(xs[3]), window, stride, pad};
  OpCase oc;
  oc.op = "pooling";
  oc.shape = "maxpool " + std::to_string(window) + "x" + std::to_string(window) + " s" +
             std::to_string(stride) + " p" + std::to_string(pad) + " x" + shape_str(xs);
  oc.input_shapes = {xs};
  oc.inputs = {distinct(shape_numel(xs), 21)};
  oc.forward = [=](std::vector<Variable>& in, Device, Extras&) {
    return maxpool2d(in[0], window, stride, pad);
  };
  oc.reference = [g](const std::vector<Vec>& in, const Vec& dy) {
    return RefOut{ref::maxpool_forward(g, in[0]), {ref::maxpool_backward(g, in[0], dy)}, {}};
  };
  oc.gpu_tol = 0;  // a max and a copy of gradients: exact
  return oc;
}

OpCase avgpool_case(const Shape& xs) {
  const int n = int(xs[0]), hw = int(xs[1] * xs[2]), c = int(xs[3]);
  OpCase oc;
  oc.op = "pooling";
  oc.shape = "global avgpool x" + shape_str(xs);
  oc.input_shapes = {xs};
  oc.inputs = {uniform(shape_numel(xs), 22)};
  oc.forward = [](std::vector<Variable>& in, Device, Extras&) { return global_avgpool(in[0]); };
  oc.reference = [=](const std::vector<Vec>& in, const Vec& dy) {
    return RefOut{ref::global_avgpool_forward(n, hw, c, in[0]),
                  {ref::global_avgpool_backward(n, hw, c, dy)}, {}};
  };
  oc.gpu_tol = 1e-6;
  return oc;
}

OpCase linear_case(int n, int in_f, int out_f, bool bias) {
  OpCase oc;
  oc.op = "linear";
  oc.shape = "x[" + std::to_string(n) + "," + std::to_string(in_f) + "] -> " +
             std::to_string(out_f) + (bias ? " +bias" : "");
  oc.input_shapes = {{n, in_f}, {out_f, in_f}};
  oc.inputs = {uniform(int64_t(n) * in_f, 31), uniform(int64_t(out_f) * in_f, 32)};
  if (bias) {
    oc.input_shapes.push_back({out_f});
    oc.inputs.push_back(uniform(out_f, 33));
  }
  oc.forward = [bias](std::vector<Variable>& in, Device, Extras&) {
    return linear(in[0], in[1], bias ? in[2] : Variable());
  };
  oc.reference = [=](const std::vector<Vec>& in, const Vec& dy) {
    RefOut out;
    out.y = ref::linear_forward(n, in_f, out_f, in[0], in[1], bias ? &in[2] : nullptr);
    ref::LinearGrads g = ref::linear_backward(n, in_f, out_f, in[0], in[1], dy);
    out.grads = {g.dx, g.dw};
    if (bias) out.grads.push_back(g.db);
    return out;
  };
  oc.gpu_tol = 1e-5;
  oc.tf32_reduction = std::max({int64_t(in_f), int64_t(out_f), int64_t(n)});  // y, dx, dw
  return oc;
}

OpCase softmax_case(int rows, int cols) {
  OpCase oc;
  oc.op = "softmax";
  oc.shape = "x[" + std::to_string(rows) + "," + std::to_string(cols) + "]";
  oc.input_shapes = {{rows, cols}};
  oc.inputs = {uniform(int64_t(rows) * cols, 41, -4.f, 4.f)};
  oc.forward = [](std::vector<Variable>& in, Device, Extras&) { return softmax(in[0]); };
  oc.reference = [=](const std::vector<Vec>& in, const Vec& dy) {
    return RefOut{ref::softmax_forward(rows, cols, in[0]),
                  {ref::softmax_backward(rows, cols, in[0], dy)}, {}};
  };
  oc.gpu_tol = 1e-5;
  return oc;
}

enum class Targets { Soft, OneHot, Unnormalized };

// logit_range: logits are uniform in [-range, range]. Large ranges check that the fused kernel
// subtracts the row maximum; a big case keeps it moderate so the float loss is precise enough for
// finite differences.
OpCase xent_case(int rows, int cols, Targets kind, float logit_range = 30.f) {
  std::vector<float> t(size_t(rows) * cols, 0.f);
  std::mt19937 rng(51);
  for (int i = 0; i < rows; ++i) {
    if (kind == Targets::OneHot) {
      t[size_t(i) * cols + rng() % cols] = 1.f;
      continue;
    }
    std::vector<float> u = uniform(cols, 52 + i, 0.f, 1.f);
    const float s = std::accumulate(u.begin(), u.end(), 0.f);
    const float total = kind == Targets::Soft ? 1.f : 0.5f;  // label mixing can leave mass < 1
    for (int j = 0; j < cols; ++j) t[size_t(i) * cols + j] = u[j] / s * total;
  }
  OpCase oc;
  oc.op = "softmax_xent";
  oc.shape = "logits[" + std::to_string(rows) + "," + std::to_string(cols) + "] " +
             (kind == Targets::Soft ? "soft" : kind == Targets::OneHot ? "one-hot" : "mass 0.5") +
             " targets";
  oc.input_shapes = {{rows, cols}};
  oc.inputs = {uniform(int64_t(rows) * cols, 53, -logit_range, logit_range)};
  oc.forward = [=](std::vector<Variable>& in, Device d, Extras&) {
    return softmax_cross_entropy(in[0], on(d, t, {rows, cols}));
  };
  oc.reference = [=](const std::vector<Vec>& in, const Vec& dy) {
    Vec dlogits;
    const double loss = ref::softmax_xent(rows, cols, in[0], to_vec(t), &dlogits);
    for (double& v : dlogits) v *= dy[0];
    return RefOut{{loss}, {dlogits}, {}};
  };
  oc.gpu_tol = 1e-5;
  return oc;
}

OpCase elementwise_case(const std::string& which, const Shape& xs) {
  OpCase oc;
  oc.op = "elementwise";
  oc.shape = which + " x" + shape_str(xs);
  const int64_t n = shape_numel(xs);
  oc.gpu_tol = 0;
  if (which == "relu") {
    oc.input_shapes = {xs};
    oc.inputs = {away_from_zero(n, 61)};
    oc.forward = [](std::vector<Variable>& in, Device, Extras&) { return relu(in[0]); };
    oc.reference = [](const std::vector<Vec>& in, const Vec& dy) {
      RefOut out{Vec(in[0].size()), {Vec(in[0].size())}, {}};
      for (size_t i = 0; i < in[0].size(); ++i) {
        out.y[i] = std::max(0.0, in[0][i]);
        out.grads[0][i] = in[0][i] > 0 ? dy[i] : 0.0;
      }
      return out;
    };
  } else if (which == "add") {
    oc.input_shapes = {xs, xs};
    oc.inputs = {uniform(n, 62), uniform(n, 63)};
    oc.forward = [](std::vector<Variable>& in, Device, Extras&) { return add(in[0], in[1]); };
    oc.reference = [](const std::vector<Vec>& in, const Vec& dy) {
      RefOut out{Vec(in[0].size()), {dy, dy}, {}};
      for (size_t i = 0; i < in[0].size(); ++i) out.y[i] = in[0][i] + in[1][i];
      return out;
    };
  } else {  // scale
    oc.input_shapes = {xs};
    oc.inputs = {uniform(n, 64)};
    oc.forward = [](std::vector<Variable>& in, Device, Extras&) { return scale(in[0], -0.37f); };
    oc.reference = [](const std::vector<Vec>& in, const Vec& dy) {
      RefOut out{Vec(in[0].size()), {Vec(in[0].size())}, {}};
      for (size_t i = 0; i < in[0].size(); ++i) {
        out.y[i] = -0.37f * float(in[0][i]);
        out.grads[0][i] = -0.37f * float(dy[i]);
      }
      return out;
    };
  }
  return oc;
}

// A case whose float output is too coarse for the default finite-difference step.
OpCase with_fd_step(OpCase c, double step) {
  c.fd_step = step;
  return c;
}

// The case with `params` as a model's parameters (OpCase::accumulated): their gradients are added
// into what their buffers hold. The plain case is the one gradient-checked.
OpCase accumulated(OpCase c, std::vector<size_t> params) {
  c.shape += " (parameter gradients accumulated)";
  c.reference = [r = std::move(c.reference), params](const std::vector<Vec>& in, const Vec& dy) {
    RefOut out = r(in, dy);
    for (size_t i : params) {
      const std::vector<float> prior = accumulated_prior(int64_t(out.grads[i].size()), i);
      for (size_t j = 0; j < prior.size(); ++j) out.grads[i][j] += prior[j];
    }
    return out;
  };
  c.accumulated = std::move(params);
  c.gradcheck = false;
  return c;
}

// A real-size case: compared across backends and with the naive reference, never differenced.
OpCase real_size(OpCase c) {
  c.gradcheck = false;
  return c;
}

// ---- bf16 activations (--precision bf16) ----
// A stored bf16 value is its float32 value rounded to nearest even: 7 stored mantissa bits, so it
// is off by at most half an ulp, 2^-8 of its magnitude, i.e. at most 2^-8 of max |want| in
// normalized_error for each rounding on the way. Two backends that both round may store values one
// ulp (2^-7) apart where their float32 results, summed in different orders, straddle a rounding
// boundary: CUDA vs CPU allows 2^-7 per rounding.
constexpr double kBf16HalfUlp = 1.0 / 256;

std::vector<float> bf16_values(std::vector<float> v) {
  for (float& x : v) x = float(ref::bf16_round(x));
  return v;
}

Vec bf16_values(Vec v) {
  for (double& x : v) x = ref::bf16_round(x);
  return v;
}

// The bf16 twin of a float32 case. Its inputs `bf16_inputs` (activations, convolution filters) are
// bf16 values from the start, so that the reference sees exactly what the op sees; the forward
// casts them to bf16 (their gradients come back float32 through the casts) and casts a bf16 output
// back to float32, whose backward hands the op the upstream gradient rounded to bf16, as the
// reference gets it (`bf16_output` false: the op returns float32, its dy stays float32).
// `roundings`: the bf16 roundings after the float32 arithmetic on the way to any output or
// gradient.
// Finite differences are meaningless at bf16 precision; the float32 twin is gradient-checked, and
// the reference comparison here covers the gradients.
OpCase bf16_twin(OpCase c, const std::vector<size_t>& bf16_inputs, int roundings,
                 bool bf16_output = true) {
  c.shape = "bf16 " + c.shape;
  for (size_t i : bf16_inputs) c.inputs[i] = bf16_values(c.inputs[i]);
  c.forward = [f = std::move(c.forward), bf16_inputs](std::vector<Variable>& in, Device d,
                                                      Extras& extras) {
    std::vector<Variable> cast_in = in;
    for (size_t i : bf16_inputs) cast_in[i] = cast(in[i], DType::BF16);
    return cast(f(cast_in, d, extras), DType::F32);
  };
  if (bf16_output)
    c.reference = [r = std::move(c.reference)](const std::vector<Vec>& in, const Vec& dy) {
      return r(in, bf16_values(dy));
    };
  c.ref_tol += roundings * kBf16HalfUlp;
  c.gpu_tol += roundings * 2 * kBf16HalfUlp;
  // bf16 convolutions multiply on tensor cores (bf16 products are exact in float32, the sums are
  // float32) whatever the TF32 setting: gpu_tol holds in both modes.
  c.tf32_reduction = 0;
  c.gradcheck = false;
  return c;
}

// x bf16; the filter and bias float32, the filter's values bf16 numbers (the op convolves its
// filter's bf16 rounding, which is then the filter itself, as the reference sees it). Every output
// and gradient is rounded once, except the forward with a bias: the convolution is stored in
// bf16, then the bias is added and the sum rounded again (two errors, of the convolution's and of
// the sum's size: both the output's for these inputs; the order of the two:
// bf16_conv_bias_mismatches).
OpCase bf16_conv_case(int n, int h, int w, int c, int k, int r, int stride, int pad, bool bias,
                      const std::string& what) {
  OpCase oc = conv_case(n, h, w, c, k, r, stride, pad, bias, what);
  oc.inputs[1] = bf16_values(oc.inputs[1]);
  return bf16_twin(std::move(oc), {0}, bias ? 2 : 1);
}

// x (and residual) bf16; y and dx rounded once; statistics, dgamma, dbeta float32. The residual's
// gradient is the masked bf16 dy: exact.
OpCase bf16_batchnorm_case(const Shape& xs, bool training) {
  return bf16_twin(batchnorm_case(xs, training), {0}, 1);
}
OpCase bf16_batchnorm_relu_case(const Shape& xs, bool training, bool residual,
                                bool kinked = false) {
  std::vector<size_t> bf16_inputs{0};
  if (residual) bf16_inputs.push_back(3);
  return bf16_twin(batchnorm_relu_case(xs, training, residual, kinked), bf16_inputs, 1);
}

// The forward picks bf16 values: exact. Overlapping windows send several gradients to one input,
// summed in float32 and rounded once. (On large inputs the bf16 values tie within a window: the
// first maximum wins, on every backend and in the reference.)
OpCase bf16_maxpool_case(const Shape& xs, int window, int stride, int pad) {
  return bf16_twin(maxpool_case(xs, window, stride, pad), {0}, 1);
}

// bf16 in, float32 out: the forward's mean is float32; the backward rounds dy / hw once.
OpCase bf16_avgpool_case(const Shape& xs) { return bf16_twin(avgpool_case(xs), {0}, 1, false); }

// relu is exact in bf16 (a bf16 value or 0, a bf16 gradient or 0); add rounds its sum once and
// passes dy through.
OpCase bf16_elementwise_case(const std::string& which, const Shape& xs) {
  OpCase c = elementwise_case(which, xs);
  return which == "relu" ? bf16_twin(c, {0}, 0) : bf16_twin(c, {0, 1}, 1);
}

// cast float32 -> bf16 -> float32: the rounding itself, forward and backward (the gradient comes
// back rounded to bf16), against the reference's own rounding. Exact on every backend (gpu_tol 0).
OpCase cast_case(int64_t n) {
  OpCase oc;
  oc.op = "cast";
  oc.shape = "float32 -> bf16 -> float32 x[" + std::to_string(n) + "]";
  oc.input_shapes = {{n}};
  std::vector<float> x = uniform(n, 71, -4.f, 4.f);
  // Exact ties between two bf16 values (to even: down, up, up with a carry into the exponent,
  // negative), values just off a tie, and magnitudes far from 1.
  const float special[] = {1.f + 0x1p-8f,          1.f + 3 * 0x1p-8f, 2.f - 0x1p-8f,
                           -(1.f + 0x1p-8f),       1.f + 0x1p-8f + 0x1p-20f,
                           1.f + 0x1p-8f - 0x1p-20f, 3e-30f, -1e30f};
  std::copy(std::begin(special), std::end(special), x.begin());
  oc.inputs = {x};
  oc.forward = [](std::vector<Variable>& in, Device, Extras&) {
    return cast(cast(in[0], DType::BF16), DType::F32);
  };
  oc.reference = [](const std::vector<Vec>& in, const Vec& dy) {
    return RefOut{bf16_values(in[0]), {bf16_values(dy)}, {}};
  };
  oc.gpu_tol = 0;
  oc.gradcheck = false;  // piecewise constant
  return oc;
}

}  // namespace

std::vector<OpCase> all_op_cases() {
  return {
      conv_case(2, 7, 5, 3, 5, 3, 1, 1, true, "3x3 same"),
      conv_case(1, 9, 9, 6, 33, 3, 2, 1, false, "3x3 stride 2, batch 1"),
      conv_case(3, 4, 4, 7, 9, 1, 1, 0, true, "1x1 pointwise"),
      conv_case(2, 5, 5, 8, 4, 1, 2, 0, false, "1x1 stride 2 (Keras v1 downsample)"),
      conv_case(2, 11, 11, 3, 8, 7, 2, 3, true, "7x7 stride 2 stem"),
      conv_case(1, 6, 6, 1, 2, 3, 1, 0, false, "3x3 unpadded, 1 channel"),
      conv_case(3, 1, 1, 5, 4, 3, 1, 1, true, "3x3 on 1x1 (a single tap)"),
      conv_case(2, 1, 1, 6, 3, 5, 2, 2, false, "5x5 stride 2 on 1x1 (a single tap)"),
      batchnorm_case({2, 3, 3, 5}, true),
      batchnorm_case({1, 4, 4, 33}, true),
      batchnorm_case({7, 1, 1, 10}, true),
      batchnorm_case({3, 2, 5, 6}, false),
      batchnorm_relu_case({2, 3, 3, 5}, true, true),
      batchnorm_relu_case({1, 4, 4, 33}, true, false),
      batchnorm_relu_case({7, 1, 1, 10}, true, true),
      batchnorm_relu_case({3, 2, 5, 6}, false, true),
      batchnorm_relu_case({2, 2, 3, 4}, false, false),
      maxpool_case({2, 7, 7, 3}, 3, 2, 1),
      maxpool_case({1, 8, 8, 5}, 3, 2, 1),
      maxpool_case({1, 2, 2, 1}, 3, 2, 1),
      maxpool_case({2, 5, 6, 4}, 2, 2, 0),
      avgpool_case({2, 3, 5, 7}),
      avgpool_case({1, 1, 1, 4}),
      linear_case(1, 7, 10, true),
      linear_case(5, 33, 1000, true),
      linear_case(4, 9, 3, false),
      softmax_case(3, 10),
      softmax_case(2, 1000),
      softmax_case(1, 1),
      xent_case(4, 10, Targets::Soft),
      xent_case(3, 1000, Targets::OneHot),
      xent_case(2, 10, Targets::Unnormalized),
      xent_case(5, 1, Targets::OneHot),
      with_fd_step(xent_case(33, 1000, Targets::Soft, 6.f), 5e-2),
      elementwise_case("relu", {2, 3, 4, 5}),
      elementwise_case("add", {3, 5}),
      elementwise_case("scale", {1, 7}),
      // The refinery's real shapes: CIFAR ResNets at batch 128 and the blog's ResNet50 at 250.
      real_size(conv_case(250, 1, 1, 512, 512, 3, 1, 1, false, "ResNet50 stage-5 3x3 on 1x1")),
      real_size(conv_case(250, 2, 2, 1024, 512, 1, 2, 0, false, "ResNet50 1x1 stride 2 on 2x2")),
      real_size(conv_case(128, 2, 2, 1024, 2048, 1, 2, 0, true, "ResNet50 shortcut on 2x2")),
      real_size(batchnorm_case({128, 32, 32, 16}, true)),
      real_size(batchnorm_case({250, 16, 16, 64}, true)),
      real_size(batchnorm_case({250, 1, 1, 2048}, true)),
      real_size(batchnorm_case({250, 16, 16, 64}, false)),
      real_size(batchnorm_relu_case({128, 32, 32, 16}, true, true, true)),
      real_size(batchnorm_relu_case({250, 8, 8, 256}, true, false, true)),
      real_size(batchnorm_relu_case({250, 8, 8, 256}, false, true, true)),
      real_size(batchnorm_relu_case({128, 32, 32, 16}, true, false, true)),
      real_size(batchnorm_relu_case({128, 32, 32, 16}, false, true, true)),
      real_size(batchnorm_relu_case({250, 1, 1, 2048}, true, true, true)),
      real_size(batchnorm_relu_case({250, 1, 1, 2048}, true, false, true)),
      real_size(batchnorm_relu_case({250, 1, 1, 2048}, false, true, true)),
      with_fd_step(batchnorm_relu_case({64, 8, 8, 32}, true, true, false, 1000.f), 5e-2),
      with_fd_step(batchnorm_relu_case({16, 5, 5, 12}, true, false, false, 1000.f), 5e-2),
      batchnorm_relu_case({64, 8, 8, 32}, false, false, false, 1000.f),
      with_fd_step(batchnorm_case({64, 8, 8, 32}, true, 1000.f), 5e-2),
      batchnorm_case({64, 8, 8, 32}, false, 1000.f),
      real_size(linear_case(250, 2048, 10, true)),
      // Parameter gradients added into a model's flat gradient buffer.
      accumulated(conv_case(2, 7, 5, 3, 5, 3, 1, 1, true, "3x3 same"), {1, 2}),
      accumulated(conv_case(2, 5, 5, 8, 4, 1, 2, 0, false, "1x1 stride 2"), {1}),
      accumulated(conv_case(3, 1, 1, 5, 4, 3, 1, 1, true, "3x3 on 1x1 (a single tap)"), {1, 2}),
      accumulated(batchnorm_case({2, 3, 3, 5}, true), {1, 2}),
      accumulated(batchnorm_relu_case({2, 3, 3, 5}, true, true), {1, 2}),
      accumulated(batchnorm_relu_case({1, 4, 4, 33}, true, false), {1, 2}),
      accumulated(linear_case(5, 33, 10, true), {1, 2}),
      accumulated(linear_case(4, 9, 3, false), {1}),
      real_size(accumulated(batchnorm_relu_case({250, 1, 1, 2048}, true, true, true), {1, 2})),
      real_size(accumulated(conv_case(128, 2, 2, 1024, 2048, 1, 2, 0, true, "ResNet50 shortcut on 2x2"), {1, 2})),
      with_fd_step(xent_case(250, 10, Targets::Soft, 6.f), 5e-2),
      real_size(xent_case(2000, 10, Targets::Soft, 6.f)),
      // bf16 activations: every op that takes them, on awkward shapes and (few: the CPU runs them
      // on widened copies) real ones.
      cast_case(1000),
      bf16_elementwise_case("relu", {2, 3, 4, 5}),
      bf16_elementwise_case("add", {3, 5}),
      bf16_conv_case(2, 7, 5, 3, 5, 3, 1, 1, true, "3x3 same"),
      bf16_conv_case(1, 9, 9, 6, 33, 3, 2, 1, false, "3x3 stride 2, batch 1"),
      bf16_conv_case(3, 4, 4, 7, 9, 1, 1, 0, true, "1x1 pointwise"),
      bf16_conv_case(2, 11, 11, 3, 8, 7, 2, 3, true, "7x7 stride 2 stem"),
      bf16_conv_case(3, 1, 1, 5, 4, 3, 1, 1, true, "3x3 on 1x1 (a single tap)"),
      bf16_batchnorm_case({2, 3, 3, 5}, true),
      bf16_batchnorm_case({1, 4, 4, 33}, true),
      bf16_batchnorm_case({3, 2, 5, 6}, false),
      bf16_batchnorm_relu_case({2, 3, 3, 5}, true, true),
      bf16_batchnorm_relu_case({1, 4, 4, 33}, true, false),
      bf16_batchnorm_relu_case({3, 2, 5, 6}, false, true),
      bf16_batchnorm_relu_case({2, 2, 3, 4}, false, false),
      bf16_maxpool_case({2, 7, 7, 3}, 3, 2, 1),
      bf16_avgpool_case({2, 3, 5, 7}),
      bf16_conv_case(128, 32, 32, 16, 16, 3, 1, 1, false, "CIFAR ResNet 3x3"),
      bf16_conv_case(250, 1, 1, 512, 512, 3, 1, 1, false, "ResNet50 stage-5 3x3 on 1x1"),
      bf16_batchnorm_case({128, 32, 32, 16}, true),
      bf16_batchnorm_relu_case({128, 32, 32, 16}, true, true, true),
      bf16_batchnorm_relu_case({250, 1, 1, 2048}, true, false, true),
      bf16_batchnorm_relu_case({250, 1, 1, 2048}, false, true, true),
      bf16_maxpool_case({250, 16, 16, 64}, 3, 2, 1),  // the ResNet50 stem's pool at 32x32 input
      bf16_avgpool_case({128, 8, 8, 64}),
      accumulated(bf16_conv_case(2, 7, 5, 3, 5, 3, 1, 1, true, "3x3 same"), {1, 2}),
      accumulated(bf16_conv_case(3, 1, 1, 5, 4, 3, 1, 1, true, "3x3 on 1x1 (a single tap)"), {1, 2}),
      accumulated(bf16_batchnorm_case({2, 3, 3, 5}, true), {1, 2}),
      accumulated(bf16_batchnorm_relu_case({2, 3, 3, 5}, true, true), {1, 2}),
  };
}

// TF32 math is held to tf32_tolerance (tolerance.h) of the op's longest reduction.
double gpu_tolerance(const OpCase& c, bool tf32) {
  if (!tf32 || c.tf32_reduction == 0) return c.gpu_tol;
  return std::max(c.gpu_tol, tf32_tolerance(c.tf32_reduction));
}

std::vector<float> upstream_grad(int64_t n) { return uniform(n, 99, -1.f, 1.f); }

std::vector<float> accumulated_prior(int64_t n, size_t i) { return uniform(n, 90 + unsigned(i)); }

RunOut run_case(const OpCase& c, Device device) {
  std::vector<Variable> in;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    in.emplace_back(Tensor::from_host(c.inputs[i], c.input_shapes[i], device), c.backward);
  for (size_t i : c.accumulated)
    in[i].bind_grad_buffer(Tensor::from_host(
        accumulated_prior(shape_numel(c.input_shapes[i]), i), c.input_shapes[i], device));
  Extras extras;
  Variable y = c.forward(in, device, extras);
  RunOut out;
  out.y = y.value().to_host();
  if (c.backward) {
    y.backward(Tensor::from_host(upstream_grad(y.value().numel()), y.shape(), device));
    for (Variable& v : in) out.grads.push_back(v.grad().to_host());
  }
  for (auto& [name, t] : extras) out.extras[name] = t.to_host();
  return out;
}

double normalized_error(const std::vector<float>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return INFINITY;
  double err = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;  // std::max would quietly skip a NaN
    err = std::max(err, std::abs(double(got[i]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return scale > 0 ? err / scale : err;
}

double normalized_error(const std::vector<float>& got, const std::vector<float>& want) {
  return normalized_error(got, std::vector<double>(want.begin(), want.end()));
}

std::string case_name(const OpCase& c) { return c.op + " " + c.shape; }

int64_t bf16_conv_bias_mismatches(Device device) {
  const Shape xs{2, 6, 5, 3}, ws{4, 3, 3, 3};
  const Variable x(Tensor::from_host(uniform(shape_numel(xs), 81), xs, device, DType::BF16));
  // A float32 filter of bf16 values: the convolution's own rounding of it changes nothing.
  const Variable w = cast(
      Variable(Tensor::from_host(uniform(shape_numel(ws), 82, -0.5f, 0.5f), ws, device, DType::BF16)),
      DType::F32);
  const std::vector<float> b = uniform(ws[0], 83);
  const Variable bias(Tensor::from_host(b, {ws[0]}, device));
  const std::vector<float> plain = conv2d(x, w, Variable(), 1, 1).value().to_host();
  const std::vector<float> got = conv2d(x, w, bias, 1, 1).value().to_host();
  int64_t wrong = 0;
  for (size_t i = 0; i < got.size(); ++i)
    wrong += got[i] != ref::bf16_round(plain[i] + b[i % b.size()]);  // the sum in float32
  return wrong;
}

}  // namespace rf::test
