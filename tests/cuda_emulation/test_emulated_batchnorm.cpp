// The fused batch norm + residual + ReLU kernels (kernels/cuda/batchnorm_relu.cu: float32 and
// bf16, and the plain bf16 batch norm) and the bias kernels (kernels/cuda/linear_bias.cu) on the
// host emulation of CUDA, called directly on host buffers and compared with the double references
// of tests/reference.h, or with naive double loops where the reference has no such function.
// Outputs and scratch start as garbage (NaN): an output the kernels leave unwritten, or a partial
// they read before writing it, shows. Under AddressSanitizer every buffer ends exactly where its
// elements do, so an access past one is reported.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "emulated_case.h"
#include "error_of.h"
#include "kernels/cuda/batchnorm_relu.cuh"
#include "kernels/cuda/linear_bias.cuh"

using namespace rf;
using namespace rf::test;

namespace {

// ---- tolerances ----

// A float output is a few float operations ((x - shift) * a + b + residual, or
// g * a + (x - mean) * b + d) on coefficients rounded once from double statistics: each rounds by
// at most 2^-24 (6e-8) of values a few times the largest output, so together they stay below
// 1e-6 of it (measured: 1.9e-7 at most), while a wrong row, channel, mask or term is off by 1e-3
// or more. The statistics and parameter gradients are one rounding from double sums.
constexpr double kFloatTol = 1e-6;
// A bf16 output is its float value rounded once to the nearest even: off by half an ulp at most,
// 2^-8 of the element's magnitude (test_cuda_backend.cpp allows the same per rounding).
constexpr double kBf16HalfUlp = 1.0 / 256;
// No term of a column sum passes through more than 64 float additions (a thread's at most 32 rows
// of a chunk, 8 row lanes, at most 5 chunks here, the accumulate), each of which rounds by at
// most 2^-24 of a partial sum no larger than sum |x|: a sound bound, where a lost or doubled row
// moves the sum by that row's |x|.
constexpr double kColumnSumTol = 64 * 0x1p-24;

// ---- float32 and bf16 activations ----

template <class T>
constexpr bool kBf16 = std::is_same_v<T, BF16>;

// v stored as activations of type T: as it is, or rounded to bf16.
template <class T>
std::vector<T> stored(const std::vector<float>& v) {
  if constexpr (kBf16<T>)
    return to_bf16(v);
  else
    return v;
}

// What the kernels compute on: the stored activations widened, in double for the references.
template <class T>
ref::Vec values(const std::vector<T>& v) {
  if constexpr (kBf16<T>)
    return to_double(widened(v));
  else
    return to_double(v);
}

template <class T>
DeviceBuffer<T> on_device(const std::vector<T>& v, size_t misalign = 0) {
  DeviceBuffer<T> b(v.size(), misalign);
  b.assign(v);
  return b;
}

template <class T>
std::vector<T> garbage(size_t n) {
  return std::vector<T>(n, T(NAN));
}
template <>
std::vector<BF16> garbage<BF16>(size_t n) {
  return to_bf16(garbage<float>(n));
}

template <class T>
DeviceBuffer<T> garbage_buffer(size_t n, size_t misalign = 0) {
  return on_device(garbage<T>(n), misalign);
}

// The largest excess of |got - want| over what rounding to T may add (bf16: half an ulp, 2^-8
// |want|; float: nothing), relative to max(1, scale, max |want|): at most kFloatTol when each
// element is its float value, within kFloatTol, stored in T. Per element, so that a wrong bf16
// rounding (a truncation) shows on small elements too.
template <class T>
double output_error(const DeviceBuffer<T>& output, const ref::Vec& want, double scale = 1) {
  const ref::Vec got = values(output.to_vector());
  REQUIRE(got.size() == want.size());
  const double rounding = kBf16<T> ? kBf16HalfUlp : 0;
  double excess = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    excess = std::max(excess, std::abs(got[i] - want[i]) - rounding * std::abs(want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return excess / scale;
}

// ---- batch norm cases ----

// The activation buffers of the calls, as bits: which ones a shape misaligns.
enum Activation : unsigned {
  kX = 1,
  kResidual = 2,
  kReluY = 4,
  kDy = 8,
  kY = 16,
  kDx = 32,
  kDresidual = 64,
  kAllActivations = 127,
};

struct BnShape {
  int64_t rows;
  int c;
  unsigned misaligned = 0;  // Activation bits: one element past alignment, forcing V = 1
  float mean = 0.f;         // x = mean + U(-spread, spread)
  float spread = 1.f;
};

// Every path of batchnorm_relu.cu (see its Design): channels per thread V = 4 (c % 4 == 0 and
// aligned activations) or V = 1; a block of tx threads per row and 256 / tx row lanes; one tile
// of channels or several, the last one partial; fewer rows than a block has row lanes; up to
// kMaxFoldedParts = 16 chunks of rows (their partials added by the apply) or more (the merge
// kernel runs first); a last chunk shorter than the others.
const BnShape kBnShapes[] = {
    {1, 128},                    // one row: the running variance takes the biased one (0)
    {5, 3},                      // V = 1, tx = 4: 5 of 64 row lanes
    {37, 1},                     // c = 1: one thread per row
    {3, 64},                     // V = 4, tx = 16: 3 of 16 row lanes
    {300, 64, kAllActivations},  // misaligned: V = 1 although c % 4 == 0; 2 tiles, 5 chunks
    {100, 130},                  // V = 1, 5 tiles of 32 channels, the last with 2; 2 chunks
    {100, 132},                  // V = 4, 2 tiles of 128 channels, the last with 4
    {1040, 17},                  // V = 1, 17 chunks of 64 rows: merged; the last has 16
    {1040, 68},                  // V = 4, the same chunks
    // Mean 1000: at std 0.03, E[x^2] - mean^2 in float would be noise, and bf16 rounds every x
    // to 1000 (variance 0); bf16 values there are 4 apart, hence std 4.6 too.
    {600, 32, 0, 1000.f, 0.05f},
    {600, 32, 0, 1000.f, 8.f},
};

// The ReLU without a residual (a backward without dresidual) differs only in the apply's
// epilogue: V = 1 and V = 4 suffice.
const BnShape kNoResidualShapes[] = {{5, 3}, {100, 132}};

// Any one activation misaligned sends the calls that take it down the scalar path (V = 4
// otherwise: an aligned float4 access to it would fault), those of the forwards or the backward.
const BnShape kForwardMisaligned[] = {{40, 132, kX}, {40, 132, kResidual}, {40, 132, kY}};
const BnShape kBackwardMisaligned[] = {
    {40, 132, kX}, {40, 132, kReluY}, {40, 132, kDy}, {40, 132, kDx}, {40, 132, kDresidual}};

// V = 4 and V = 1, over 2 tiles, 5 rows a thread.
const BnShape kAliasingShapes[] = {{40, 132}, {40, 33}};

std::string describe(const BnShape& s) {
  return "rows " + std::to_string(s.rows) + " c " + std::to_string(s.c) + " misaligned " +
         std::to_string(s.misaligned) + " mean " + std::to_string(s.mean);
}

// Which entry points a case calls, and with what: the fused batch norm + ReLU with no residual
// (no dresidual in the backward) or with one, or the plain batch norm (bf16 only: float32's is
// cuDNN's).
enum class Bn { relu, relu_residual, plain };

std::string describe(Bn mode) {
  switch (mode) {
    case Bn::relu:
      return "relu";
    case Bn::relu_residual:
      return "relu + residual";
    case Bn::plain:
      return "plain";
  }
  return "?";
}

constexpr float kEps = 1e-5f, kMomentum = 0.1f;

template <class T>
struct BnInputs {
  std::vector<T> x, residual, dy, relu_y;
  std::vector<float> gamma, beta, running_mean, running_var;
};

template <class T>
BnInputs<T> bn_inputs(const BnShape& s) {
  const size_t n = size_t(s.rows) * size_t(s.c), c = size_t(s.c);
  std::vector<float> relu_y = random_floats(n, 4);  // a ReLU's output: about half of it 0
  for (float& v : relu_y) v = std::max(v, 0.f);
  return {stored<T>(random_floats(n, 1, s.mean - s.spread, s.mean + s.spread)),
          stored<T>(random_floats(n, 2)),
          stored<T>(random_floats(n, 3)),
          stored<T>(relu_y),
          random_floats(c, 5, 0.5f, 1.5f),
          random_floats(c, 6, -0.5f, 0.5f),
          random_floats(c, 7, s.mean - 0.2f, s.mean + 0.2f),
          random_floats(c, 8, 0.5f, 2.f)};
}

// Everything the kernels read or write, on the device; outputs and scratch hold garbage.
template <class T>
struct BnBuffers {
  BnBuffers(const BnShape& s, const BnInputs<T>& in)
      : x(on_device(in.x, offset(s, kX))),
        residual(on_device(in.residual, offset(s, kResidual))),
        dy(on_device(in.dy, offset(s, kDy))),
        relu_y(on_device(in.relu_y, offset(s, kReluY))),
        y(garbage_buffer<T>(in.x.size(), offset(s, kY))),
        dx(garbage_buffer<T>(in.x.size(), offset(s, kDx))),
        dresidual(garbage_buffer<T>(in.x.size(), offset(s, kDresidual))),
        gamma(on_device(in.gamma)),
        beta(on_device(in.beta)),
        running_mean(on_device(in.running_mean)),
        running_var(on_device(in.running_var)),
        save_mean(garbage_buffer<float>(in.gamma.size())),
        save_invstd(garbage_buffer<float>(in.gamma.size())),
        dgamma(garbage_buffer<float>(in.gamma.size())),
        dbeta(garbage_buffer<float>(in.gamma.size())),
        scratch(garbage_buffer<double>(gpu::batchnorm_relu_scratch_bytes(s.rows, s.c) /
                                       sizeof(double))) {}

  static size_t offset(const BnShape& s, Activation a) { return (s.misaligned & a) != 0 ? 1 : 0; }

  DeviceBuffer<T> x, residual, dy, relu_y, y, dx, dresidual;
  DeviceBuffer<float> gamma, beta, running_mean, running_var, save_mean, save_invstd, dgamma, dbeta;
  DeviceBuffer<double> scratch;
};

// The activations of one call: the buffers of a BnBuffers, or (aliasing) some of them twice.
template <class T>
struct BnCall {
  const T *x, *residual, *relu_y, *dy;
  T *y, *dx, *dresidual;
};

// One of the outputs of a BnCall.
template <class T>
using BnOutput = T* BnCall<T>::*;

template <class T>
BnCall<T> separate(Bn mode, BnBuffers<T>& b) {
  const bool residual = mode == Bn::relu_residual;
  return {.x = b.x.data(),
          .residual = residual ? b.residual.data() : nullptr,
          .relu_y = b.relu_y.data(),
          .dy = b.dy.data(),
          .y = b.y.data(),
          .dx = b.dx.data(),
          .dresidual = residual ? b.dresidual.data() : nullptr};
}

template <class T>
void forward_train(Bn mode, const BnShape& s, BnBuffers<T>& b, const BnCall<T>& a) {
  REQUIRE((mode != Bn::plain || kBf16<T>));
  if constexpr (kBf16<T>) {
    if (mode == Bn::plain) {
      gpu::batchnorm_forward_train(s.rows, s.c, a.x, b.gamma.data(), b.beta.data(), kEps, kMomentum,
                                   b.running_mean.data(), b.running_var.data(), a.y,
                                   b.save_mean.data(), b.save_invstd.data(), b.scratch.data(),
                                   nullptr);
      return;
    }
  }
  gpu::batchnorm_relu_forward_train(s.rows, s.c, a.x, a.residual, b.gamma.data(), b.beta.data(),
                                    kEps, kMomentum, b.running_mean.data(), b.running_var.data(),
                                    a.y, b.save_mean.data(), b.save_invstd.data(), b.scratch.data(),
                                    nullptr);
}

template <class T>
void forward_eval(Bn mode, const BnShape& s, BnBuffers<T>& b, const BnCall<T>& a) {
  REQUIRE((mode != Bn::plain || kBf16<T>));
  if constexpr (kBf16<T>) {
    if (mode == Bn::plain) {
      gpu::batchnorm_forward_eval(s.rows, s.c, a.x, b.gamma.data(), b.beta.data(),
                                  b.running_mean.data(), b.running_var.data(), kEps, a.y, nullptr);
      return;
    }
  }
  gpu::batchnorm_relu_forward_eval(s.rows, s.c, a.x, a.residual, b.gamma.data(), b.beta.data(),
                                   b.running_mean.data(), b.running_var.data(), kEps, a.y, nullptr);
}

// From the statistics in save_mean and save_invstd.
template <class T>
void backward(Bn mode, const BnShape& s, BnBuffers<T>& b, const BnCall<T>& a, bool accumulate) {
  REQUIRE((mode != Bn::plain || kBf16<T>));
  if constexpr (kBf16<T>) {
    if (mode == Bn::plain) {
      gpu::batchnorm_backward(s.rows, s.c, a.x, a.dy, b.gamma.data(), b.save_mean.data(),
                              b.save_invstd.data(), a.dx, b.dgamma.data(), b.dbeta.data(),
                              accumulate, b.scratch.data(), nullptr);
      return;
    }
  }
  gpu::batchnorm_relu_backward(s.rows, s.c, a.x, a.relu_y, a.dy, b.gamma.data(), b.save_mean.data(),
                               b.save_invstd.data(), a.dx, a.dresidual, b.dgamma.data(),
                               b.dbeta.data(), accumulate, b.scratch.data(), nullptr);
}

// z (a batch norm's output) through the epilogue of `mode`.
ref::Vec epilogue(Bn mode, ref::Vec z, const ref::Vec& residual) {
  if (mode == Bn::plain) return z;
  for (size_t i = 0; i < z.size(); ++i)
    z[i] = std::max(0.0, z[i] + (mode == Bn::relu_residual ? residual[i] : 0.0));
  return z;
}

// Per channel: the batch mean and 1 / sqrt(var + eps) with the biased variance, two passes.
struct BatchStats {
  ref::Vec mean, invstd;
};

BatchStats batch_stats(int64_t rows, int c, const ref::Vec& x) {
  BatchStats st{ref::Vec(size_t(c)), ref::Vec(size_t(c))};
  for (int j = 0; j < c; ++j) {
    double mean = 0, var = 0;
    for (int64_t r = 0; r < rows; ++r) mean += x[size_t(r * c + j)];
    mean /= double(rows);
    for (int64_t r = 0; r < rows; ++r) var += std::pow(x[size_t(r * c + j)] - mean, 2);
    st.mean[size_t(j)] = mean;
    st.invstd[size_t(j)] = 1 / std::sqrt(var / double(rows) + double(kEps));
  }
  return st;
}

struct BnGrads {
  ref::Vec g, dx, dgamma, dbeta;  // g: dy masked by the ReLU (dy itself without one)
  // The largest term of dx, gamma * invstd * |g|: dx's rounding is relative to its terms, which
  // cancel exactly at one row (dx = 0 there).
  double dx_scale = 0;
};

// The backward from saved statistics, a naive loop: ref::batchnorm_backward recomputes them from
// x in double, while the kernels take them as saved, in float, and at mean 1000 the float mean
// alone (3e-5 off) would move dgamma by 5e-5 of its size, far above the kernels' own error.
BnGrads backward_from_saved(int64_t rows, int c, const ref::Vec& x, const ref::Vec* relu_y,
                            const ref::Vec& dy, const ref::Vec& gamma, const ref::Vec& mean,
                            const ref::Vec& invstd) {
  BnGrads out{dy, ref::Vec(x.size()), ref::Vec(size_t(c)), ref::Vec(size_t(c))};
  if (relu_y)
    for (size_t i = 0; i < x.size(); ++i) out.g[i] = (*relu_y)[i] > 0 ? dy[i] : 0.0;
  for (size_t j = 0; j < size_t(c); ++j) {
    const auto at = [&](int64_t r) { return size_t(r) * size_t(c) + j; };
    for (int64_t r = 0; r < rows; ++r) {
      out.dbeta[j] += out.g[at(r)];
      out.dgamma[j] += out.g[at(r)] * (x[at(r)] - mean[j]) * invstd[j];
    }
    const double k = gamma[j] * invstd[j], n = double(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const double xhat = (x[at(r)] - mean[j]) * invstd[j];
      out.dx[at(r)] = k * (out.g[at(r)] - out.dbeta[j] / n - xhat * out.dgamma[j] / n);
      out.dx_scale = std::max(out.dx_scale, std::abs(k * out.g[at(r)]));
    }
  }
  return out;
}

template <class T>
void check_forward_train(const BnShape& s, Bn mode) {
  const BnInputs<T> in = bn_inputs<T>(s);
  BnBuffers<T> b(s, in);
  forward_train(mode, s, b, separate(mode, b));

  const ref::Vec x = values(in.x);
  ref::BatchNormOut want =
      ref::batchnorm_train(s.rows, s.c, x, to_double(in.gamma), to_double(in.beta), kEps, kMomentum,
                           to_double(in.running_mean), to_double(in.running_var));
  if (s.rows == 1)  // the reference's unbiased variance is 0 / 0; the kernels keep the biased 0
    for (size_t j = 0; j < size_t(s.c); ++j)
      want.running_var[j] = (1 - double(kMomentum)) * in.running_var[j];
  const BatchStats st = batch_stats(s.rows, s.c, x);
  CHECK(output_error(b.y, epilogue(mode, want.y, values(in.residual))) <= kFloatTol);
  CHECK(error_scaled_to_max_or_one(b.save_mean.to_vector(), st.mean) <= kFloatTol);
  CHECK(error_scaled_to_max_or_one(b.save_invstd.to_vector(), st.invstd) <= kFloatTol);
  CHECK(error_scaled_to_max_or_one(b.running_mean.to_vector(), want.running_mean) <= kFloatTol);
  CHECK(error_scaled_to_max_or_one(b.running_var.to_vector(), want.running_var) <= kFloatTol);
}

template <class T>
void check_forward_eval(const BnShape& s, Bn mode) {
  const BnInputs<T> in = bn_inputs<T>(s);
  BnBuffers<T> b(s, in);
  forward_eval(mode, s, b, separate(mode, b));
  const ref::Vec want =
      ref::batchnorm_eval(s.rows, s.c, values(in.x), to_double(in.gamma), to_double(in.beta),
                          to_double(in.running_mean), to_double(in.running_var), kEps);
  CHECK(output_error(b.y, epilogue(mode, want, values(in.residual))) <= kFloatTol);
}

// The statistics a training forward saves for x: the batch's, rounded to float.
template <class T>
void save_batch_stats(const BnShape& s, const BnInputs<T>& in, BnBuffers<T>& b) {
  const BatchStats st = batch_stats(s.rows, s.c, values(in.x));
  for (size_t j = 0; j < size_t(s.c); ++j) {
    b.save_mean[j] = float(st.mean[j]);
    b.save_invstd[j] = float(st.invstd[j]);
  }
}

// What check_backward does after overwriting: nothing more, or accumulating into priors. The
// accumulation is float arithmetic on float buffers whatever T is: the cases check it on float32's
// fused calls and on bf16's plain ones.
enum class Then { stop, accumulate };

// Overwriting (into garbage) against the reference; then, accumulating into priors, dgamma and
// dbeta become the prior plus the overwritten result, bitwise (the float gradient added once),
// while dx and dresidual are overwritten all the same.
template <class T, Then then>
void check_backward(const BnShape& s, Bn mode) {
  const BnInputs<T> in = bn_inputs<T>(s);
  BnBuffers<T> b(s, in);
  save_batch_stats(s, in, b);
  const BnCall<T> call = separate(mode, b);
  backward(mode, s, b, call, false);

  const ref::Vec relu_y = values(in.relu_y);
  const BnGrads want =
      backward_from_saved(s.rows, s.c, values(in.x), mode == Bn::plain ? nullptr : &relu_y,
                          values(in.dy), to_double(in.gamma), to_double(b.save_mean.to_vector()),
                          to_double(b.save_invstd.to_vector()));
  CHECK(output_error(b.dx, want.dx, want.dx_scale) <= kFloatTol);
  CHECK(error_scaled_to_max_or_one(b.dgamma.to_vector(), want.dgamma) <= kFloatTol);
  CHECK(error_scaled_to_max_or_one(b.dbeta.to_vector(), want.dbeta) <= kFloatTol);
  if (call.dresidual) CHECK(values(b.dresidual.to_vector()) == want.g);  // masked dy: exact
  if (then == Then::stop) return;

  const std::vector<float> dgamma = b.dgamma.to_vector(), dbeta = b.dbeta.to_vector();
  const ref::Vec dx = values(b.dx.to_vector()), dresidual = values(b.dresidual.to_vector());
  const std::vector<float> prior_dgamma = random_floats(dgamma.size(), 9, -3.f, 3.f),
                           prior_dbeta = random_floats(dbeta.size(), 10, -3.f, 3.f);
  b.dgamma.assign(prior_dgamma);
  b.dbeta.assign(prior_dbeta);
  b.dx.assign(garbage<T>(in.x.size()));
  b.dresidual.assign(garbage<T>(in.x.size()));
  b.scratch.assign(garbage<double>(b.scratch.size()));
  backward(mode, s, b, call, true);
  for (size_t j = 0; j < dgamma.size(); ++j) {
    CAPTURE(j);
    CHECK(b.dgamma[j] == prior_dgamma[j] + dgamma[j]);
    CHECK(b.dbeta[j] == prior_dbeta[j] + dbeta[j]);
  }
  CHECK(values(b.dx.to_vector()) == dx);
  if (call.dresidual) CHECK(values(b.dresidual.to_vector()) == dresidual);
}

template <class Check>
void for_each_shape(std::span<const BnShape> shapes, Bn mode, Check check) {
  for (const BnShape& s : shapes) {
    const std::string shape = describe(s);
    CAPTURE(shape);
    CAPTURE(describe(mode));
    check(s, mode);
  }
}

// y onto x; dx onto dy and dresidual onto the ReLU's y.
template <class T>
BnCall<T> onto_x_and_dy(BnCall<T> c, BnBuffers<T>& b) {
  c.y = b.x.data();
  c.dx = b.dy.data();
  if (c.dresidual) c.dresidual = b.relu_y.data();
  return c;
}

// y onto the residual (x without one); dx onto x and dresidual onto dy.
template <class T>
BnCall<T> onto_residual_and_x(BnCall<T> c, BnBuffers<T>& b) {
  c.y = c.residual ? b.residual.data() : b.x.data();
  c.dx = b.x.data();
  if (c.dresidual) c.dresidual = b.dy.data();
  return c;
}

// Each entry point with outputs put onto inputs, against the same call on separate buffers: the
// same bits. Fresh buffers for each call, as an aliased one overwrites its inputs.
template <class T>
void check_aliasing(const BnShape& s, Bn mode) {
  const BnInputs<T> in = bn_inputs<T>(s);
  const auto read = [&](const T* p) {
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    return values(std::vector<T>(p, p + in.x.size()));
  };
  const auto agree = [&](const auto& call, std::initializer_list<BnOutput<T>> outputs) {
    BnBuffers<T> sep(s, in);
    save_batch_stats(s, in, sep);
    const BnCall<T> a = separate(mode, sep);
    call(sep, a);
    for (const auto alias : {onto_x_and_dy<T>, onto_residual_and_x<T>}) {
      BnBuffers<T> same(s, in);
      save_batch_stats(s, in, same);
      const BnCall<T> b = alias(separate(mode, same), same);
      call(same, b);
      for (const BnOutput<T> out : outputs)
        if (a.*out) CHECK(read(b.*out) == read(a.*out));
    }
  };
  agree([&](BnBuffers<T>& b, const BnCall<T>& c) { forward_train(mode, s, b, c); },
        {&BnCall<T>::y});
  agree([&](BnBuffers<T>& b, const BnCall<T>& c) { forward_eval(mode, s, b, c); }, {&BnCall<T>::y});
  agree([&](BnBuffers<T>& b, const BnCall<T>& c) { backward(mode, s, b, c, false); },
        {&BnCall<T>::dx, &BnCall<T>::dresidual});
}

// ---- bias kernels ----

template <class T>
void check_bias_add(int64_t rows, int cols) {
  const std::vector<T> before = stored<T>(random_floats(size_t(rows) * size_t(cols), 31, -2, 2));
  const std::vector<float> bias = random_floats(size_t(cols), 32);
  DeviceBuffer<T> y = on_device(before);
  const DeviceBuffer<float> b = on_device(bias);
  gpu::bias_add(rows, cols, b.data(), y.data(), nullptr);
  // One float addition, and in bf16 one rounding of its result (by the reference's bf16_round).
  ref::Vec want = values(before);
  for (size_t i = 0; i < want.size(); ++i) {
    const float sum = float(want[i]) + bias[i % size_t(cols)];
    want[i] = kBf16<T> ? ref::bf16_round(sum) : sum;
  }
  CHECK(values(y.to_vector()) == want);
}

// Overwriting (into garbage) against double sums, then accumulating into priors: the prior plus
// the overwritten sums, bitwise (one float addition of the finished sum).
template <class T>
void check_column_sums(int64_t rows, int cols) {
  const std::vector<T> x = stored<T>(random_floats(size_t(rows) * size_t(cols), 21));
  const DeviceBuffer<T> xd = on_device(x);
  DeviceBuffer<float> scratch =
      garbage_buffer<float>(gpu::column_sums_scratch_bytes(rows, cols) / sizeof(float));
  DeviceBuffer<float> out = garbage_buffer<float>(size_t(cols));
  gpu::column_sums(rows, cols, xd.data(), out.data(), false, scratch.data(), nullptr);
  const ref::Vec xv = values(x);
  for (size_t j = 0; j < size_t(cols); ++j) {
    double sum = 0, abs_sum = 0;
    for (size_t r = 0; r < size_t(rows); ++r) {
      sum += xv[r * size_t(cols) + j];
      abs_sum += std::abs(xv[r * size_t(cols) + j]);
    }
    CAPTURE(j);
    CHECK(std::abs(double(out[j]) - sum) <= kColumnSumTol * abs_sum);
  }

  const std::vector<float> sums = out.to_vector(), prior = random_floats(size_t(cols), 22, -3, 3);
  out.assign(prior);
  scratch.assign(garbage<float>(scratch.size()));
  gpu::column_sums(rows, cols, xd.data(), out.data(), true, scratch.data(), nullptr);
  for (size_t j = 0; j < size_t(cols); ++j) {
    CAPTURE(j);
    CHECK(out[j] == prior[j] + sums[j]);
  }
}

}  // namespace

TEST_CASE("cuda emulated batchnorm_relu_forward_train: y, saved and running statistics") {
  for_each_shape(kBnShapes, Bn::relu_residual, check_forward_train<float>);
  for_each_shape(kBnShapes, Bn::relu_residual, check_forward_train<BF16>);
  for_each_shape(kNoResidualShapes, Bn::relu, check_forward_train<float>);
  for_each_shape(kNoResidualShapes, Bn::relu, check_forward_train<BF16>);
}

TEST_CASE("cuda emulated batchnorm_forward_train: bf16 y, saved and running statistics") {
  for_each_shape(kBnShapes, Bn::plain, check_forward_train<BF16>);
}

TEST_CASE("cuda emulated batchnorm_relu_forward_eval: y from the running statistics") {
  for_each_shape(kBnShapes, Bn::relu_residual, check_forward_eval<float>);
  for_each_shape(kBnShapes, Bn::relu_residual, check_forward_eval<BF16>);
  for_each_shape(kNoResidualShapes, Bn::relu, check_forward_eval<float>);
  for_each_shape(kNoResidualShapes, Bn::relu, check_forward_eval<BF16>);
}

TEST_CASE("cuda emulated batchnorm_forward_eval: bf16 y from the running statistics") {
  for_each_shape(kBnShapes, Bn::plain, check_forward_eval<BF16>);
}

TEST_CASE("cuda emulated batchnorm_relu_backward: gradients overwritten, then accumulated") {
  for_each_shape(kBnShapes, Bn::relu_residual, check_backward<float, Then::accumulate>);
  for_each_shape(kBnShapes, Bn::relu_residual, check_backward<BF16, Then::stop>);
  for_each_shape(kNoResidualShapes, Bn::relu, check_backward<float, Then::accumulate>);
  for_each_shape(kNoResidualShapes, Bn::relu, check_backward<BF16, Then::stop>);
}

TEST_CASE("cuda emulated batchnorm_backward: bf16 gradients overwritten, then accumulated") {
  for_each_shape(kBnShapes, Bn::plain, check_backward<BF16, Then::accumulate>);
}

TEST_CASE("cuda emulated batchnorm_relu kernels: any one misaligned activation forces V = 1") {
  for_each_shape(kForwardMisaligned, Bn::relu_residual, check_forward_train<float>);
  for_each_shape(kForwardMisaligned, Bn::relu_residual, check_forward_train<BF16>);
  for_each_shape(kForwardMisaligned, Bn::relu_residual, check_forward_eval<float>);
  for_each_shape(kForwardMisaligned, Bn::relu_residual, check_forward_eval<BF16>);
  for_each_shape(kBackwardMisaligned, Bn::relu_residual, check_backward<float, Then::stop>);
  for_each_shape(kBackwardMisaligned, Bn::relu_residual, check_backward<BF16, Then::stop>);
}

// With thousands of channels the scalar path's chunks are capped by its many tiles (257 here: one
// chunk) while the vector path, on a quarter as many tiles, takes more (two): the scratch must hold
// the larger count of partials. An overrun is AddressSanitizer's to report.
TEST_CASE("cuda emulated batchnorm_relu_scratch_bytes: enough for the vector path's partials") {
  for_each_shape(std::array{BnShape{65, 8224}}, Bn::relu, check_forward_train<float>);
}

TEST_CASE("cuda emulated batchnorm_relu kernels: outputs aliasing inputs give the same bits") {
  // Which thread reads and writes each element does not depend on the type: float32's fused
  // calls and bf16's plain ones.
  for_each_shape(kAliasingShapes, Bn::relu_residual, check_aliasing<float>);
  for_each_shape(kAliasingShapes, Bn::plain, check_aliasing<BF16>);
}

// Rejected before anything is launched or touched: null buffers suffice.
TEST_CASE("cuda emulated batchnorm_relu kernels: empty or too wide inputs are errors naming them") {
  const auto contains = [](const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
  };
  CHECK(contains(error_of([] {
                   gpu::batchnorm_relu_forward_train(
                       0, 4, static_cast<const float*>(nullptr), nullptr, nullptr, nullptr, kEps,
                       kMomentum, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
                 }),
                 "batchnorm_relu_forward_train: empty input (0 x 4)"));
  CHECK(contains(error_of([] {
                   gpu::batchnorm_backward(3, 0, nullptr, nullptr, nullptr, nullptr, nullptr,
                                           nullptr, nullptr, nullptr, false, nullptr, nullptr);
                 }),
                 "batchnorm_backward: empty input (3 x 0)"));
  // 65537 tiles of 32 channels: more than a grid's y dimension holds.
  const int too_wide = 65536 * 32 + 1;
  CHECK(contains(error_of([] {
                   gpu::batchnorm_relu_forward_eval(1, too_wide, static_cast<const BF16*>(nullptr),
                                                    nullptr, nullptr, nullptr, nullptr, nullptr,
                                                    kEps, nullptr, nullptr);
                 }),
                 "batchnorm_relu: too many channels (2097153)"));
  CHECK(contains(error_of([] {
                   gpu::column_sums(1, too_wide, static_cast<const float*>(nullptr), nullptr, false,
                                    nullptr, nullptr);
                 }),
                 "column_sums: matrix too large"));
}

TEST_CASE("cuda emulated bias_add: y + b in float, rounded once to a bf16 output") {
  // A grid of one element, and grids of 7 and 4 blocks ending in a partial one.
  for (const auto& [rows, cols] : {std::pair{1, 1}, std::pair{37, 45}, std::pair{7, 130}}) {
    CAPTURE(rows);
    CAPTURE(cols);
    check_bias_add<float>(rows, cols);
    check_bias_add<BF16>(rows, cols);
  }
}

TEST_CASE("cuda emulated column_sums: one chunk or merged chunks, overwritten or accumulated") {
  // One chunk of 256 rows (the sums written by column_chunk_sums_kernel itself) or several
  // (column_merge_kernel adds them), the last chunk short; 32 columns a tile, the last partial.
  for (const auto& [rows, cols] :
       {std::pair{1, 33}, std::pair{256, 32}, std::pair{257, 1}, std::pair{1100, 45}}) {
    CAPTURE(rows);
    CAPTURE(cols);
    check_column_sums<float>(rows, cols);
    check_column_sums<BF16>(rows, cols);
  }
}

TEST_CASE("cuda emulated column_sums: no rows give zeros, or leave the accumulator as it was") {
  const std::vector<float> prior = random_floats(5, 41);
  DeviceBuffer<float> out = on_device(prior);
  gpu::column_sums(0, 5, static_cast<const float*>(nullptr), out.data(), true, nullptr, nullptr);
  CHECK(out.to_vector() == prior);
  gpu::column_sums(0, 5, static_cast<const BF16*>(nullptr), out.data(), false, nullptr, nullptr);
  CHECK(out.to_vector() == std::vector<float>(5, 0.f));
}
