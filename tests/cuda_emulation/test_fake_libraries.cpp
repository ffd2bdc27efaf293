// The fake cuDNN and cuBLAS (fake_cudnn.cpp, fake_cublas.cpp) against the double references of
// tests/reference.h and plain loops: every convolution direction with strides, padding and
// dilation, float32 and bfloat16, alpha and beta (beta = 0 onto NaN garbage, which must not
// leak in; beta != 0 onto prior values); batch norm's three calls; GEMMs with transposes and
// padded leading dimensions; TF32 operands exactly where the math type allows them, and the
// rounding itself; the refusal of host memory; capture into a graph; and the engine's own
// CudnnConv (engine/cuda/cudnn_conv.cu, compiled in unchanged) choosing its algorithms on the fake
// under every policy.
#include <cublas_v2.h>
#include <cudnn.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "emulated_case.h"
#include "engine/cuda/cudnn_conv.h"
#include "engine/cuda/cudnn_descriptors.h"
#include "tf32.h"

using namespace rf;
using namespace rf::test;
using rf::cuda_emulation::round_to_tf32;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
// How far apart (error_scaled_to_max_or_one), at least, a result on TF32 operands lies from the
// float32 one in these tests: three times the float32 tolerance (1e-5). Rounding an operand moves
// it by up to 2^-11 of itself; on these random values that moves the results by 1e-4 to 4e-4.
constexpr double kTf32Apart = 3e-5;

// An environment variable set for one scope.
struct ScopedEnv {
  const char* name;
  ScopedEnv(const char* n, const char* value) : name(n) { REQUIRE(setenv(n, value, 1) == 0); }
  ~ScopedEnv() { unsetenv(name); }
};

std::vector<float> tf32_rounded(std::vector<float> v) {
  std::transform(v.begin(), v.end(), v.begin(), round_to_tf32);
  return v;
}

struct Cudnn {
  cudnnHandle_t h = nullptr;
  Cudnn() { REQUIRE(cudnnCreate(&h) == CUDNN_STATUS_SUCCESS); }
  ~Cudnn() { cudnnDestroy(h); }
};

struct Cublas {
  cublasHandle_t h = nullptr;
  Cublas() { REQUIRE(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS); }
  ~Cublas() { cublasDestroy(h); }
};

// The geometry whose r x s filter, zero between the taps, is g's filter dilated by d: the
// references have no dilation, and a dilated convolution is the plain one with that filter.
ConvGeom dilated(ConvGeom g, int d) {
  g.r = (g.r - 1) * d + 1;
  g.s = (g.s - 1) * d + 1;
  return g;
}

// Tap (r, s) of g's KRSC filter sits at (r * d, s * d) of the dilated one.
int64_t dilated_index(const ConvGeom& g, int d, int64_t i) {
  const int64_t c = i % g.c, s = i / g.c % g.s, r = i / g.c / g.s % g.r, k = i / g.c / g.s / g.r;
  const ConvGeom e = dilated(g, d);
  return ((k * e.r + r * d) * e.s + s * d) * e.c + c;
}

// The descriptors of g with dilation d, as cudnn_conv.cu sets them.
struct ConvDescriptors {
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  ConvDescriptors(const ConvGeom& g, int d, cudnnDataType_t type,
                  cudnnMathType_t math = CUDNN_FMA_MATH) {
    const ConvGeom e = dilated(g, d);
    REQUIRE(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NHWC, type, g.n, g.c, g.h, g.w) ==
            CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NHWC, type, g.n, g.k, e.p(), e.q()) ==
            CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnSetFilter4dDescriptor(w, type, CUDNN_TENSOR_NHWC, g.k, g.c, g.r, g.s) ==
            CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnSetConvolution2dDescriptor(conv, g.pad, g.pad, g.stride, g.stride, d, d,
                                            CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cudnnSetConvolutionMathType(conv, math) == CUDNN_STATUS_SUCCESS);
  }
};

// The reference of all three directions of g dilated by d, on the given values.
struct ConvReference {
  ref::Vec y, dx, dw;
  ConvReference(const ConvGeom& g, int d, const std::vector<float>& x, const std::vector<float>& w,
                const std::vector<float>& dy) {
    const ConvGeom e = dilated(g, d);
    ref::Vec we(size_t(e.w_size()));
    for (int64_t i = 0; i < g.w_size(); ++i) we[size_t(dilated_index(g, d, i))] = w[size_t(i)];
    y = ref::conv2d_forward(e, to_double(x), we, nullptr);
    ref::ConvGrads grads = ref::conv2d_backward(e, to_double(x), we, to_double(dy));
    dx = std::move(grads.dx);
    dw.resize(size_t(g.w_size()));
    for (int64_t i = 0; i < g.w_size(); ++i)
      dw[size_t(i)] = grads.dw[size_t(dilated_index(g, d, i))];
  }
};

// alpha * result + beta * prior, prior unused when beta == 0 (it holds NaN then).
ref::Vec blended(const ref::Vec& result, double alpha, double beta,
                 const std::vector<float>& prior) {
  ref::Vec out(result.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = alpha * result[i] + (beta == 0 ? 0.0 : beta * double(prior[i]));
  return out;
}

// What an output holds before the call: NaN garbage when beta == 0 (never to be read), values
// to blend with otherwise.
std::vector<float> prior(size_t n, float beta, uint32_t seed) {
  return beta == 0.f ? std::vector<float>(n, kNaN) : random_floats(n, seed);
}

std::string describe(const ConvGeom& g, int d, float alpha, float beta) {
  return "n=" + std::to_string(g.n) + " h=" + std::to_string(g.h) + " w=" + std::to_string(g.w) +
         " c=" + std::to_string(g.c) + " k=" + std::to_string(g.k) + " r=" + std::to_string(g.r) +
         " s=" + std::to_string(g.s) + " stride=" + std::to_string(g.stride) +
         " pad=" + std::to_string(g.pad) + " dilation=" + std::to_string(d) +
         " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta);
}

const ConvGeom kGeoms[] = {
    {2, 7, 6, 3, 4, 3, 3, 1, 1},  // 3x3 "same"
    {3, 9, 8, 5, 6, 3, 3, 2, 1},  // strided, rows and columns of different lengths
    {2, 5, 5, 4, 3, 1, 1, 1, 0},  // pointwise: the input is the col matrix
    {2, 8, 7, 3, 5, 1, 1, 2, 0},  // strided 1x1 (a ResNet shortcut)
    {2, 6, 7, 2, 3, 5, 3, 1, 2},  // non-square filter, wide padding
    {3, 1, 1, 8, 5, 3, 3, 1, 1},  // 1x1 image under a 3x3 filter (the single-tap shape)
};

// A float32 convolution's three outputs: y (forward), dx (backward data), dw (backward filter).
struct ConvOutputs {
  std::vector<float> y, dx, dw;
};

// What the three outputs of g dilated by d hold before the calls (see prior).
ConvOutputs priors(const ConvGeom& g, int d, float beta) {
  const ConvGeom e = dilated(g, d);
  return {prior(size_t(e.y_size()), beta, 4), prior(size_t(g.x_size()), beta, 5),
          prior(size_t(g.w_size()), beta, 6)};
}

// All three directions of the float32 convolution g dilated by d under `math`, blended with alpha
// and beta onto `before`. The inputs must come out as they went in (TF32 rounds copies).
ConvOutputs convolve_float(cudnnHandle_t h, const ConvGeom& g, int d, cudnnMathType_t math,
                           const std::vector<float>& x, const std::vector<float>& w,
                           const std::vector<float>& dy, float alpha, float beta,
                           const ConvOutputs& before) {
  const ConvDescriptors desc(g, d, CUDNN_DATA_FLOAT, math);
  DeviceBuffer<float> dx_(x.size()), dw_(w.size()), ddy(dy.size()), dy_out(dy.size()),
      ddx(x.size()), ddw(w.size());
  dx_.assign(x);
  dw_.assign(w);
  ddy.assign(dy);
  dy_out.assign(before.y);
  ddx.assign(before.dx);
  ddw.assign(before.dw);
  REQUIRE(cudnnConvolutionForward(h, &alpha, desc.x, dx_.data(), desc.w, dw_.data(), desc.conv,
                                  CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &beta,
                                  desc.y, dy_out.data()) == CUDNN_STATUS_SUCCESS);
  REQUIRE(cudnnConvolutionBackwardData(h, &alpha, desc.w, dw_.data(), desc.y, ddy.data(),
                                       desc.conv, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, nullptr, 0,
                                       &beta, desc.x, ddx.data()) == CUDNN_STATUS_SUCCESS);
  REQUIRE(cudnnConvolutionBackwardFilter(h, &alpha, desc.x, dx_.data(), desc.y, ddy.data(),
                                         desc.conv, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, nullptr,
                                         0, &beta, desc.w, ddw.data()) == CUDNN_STATUS_SUCCESS);
  CHECK((dx_.to_vector() == x && dw_.to_vector() == w && ddy.to_vector() == dy));
  return {dy_out.to_vector(), ddx.to_vector(), ddw.to_vector()};
}

// Each direction's output within the float32 tolerance of the reference, blended.
void check_outputs(const ConvOutputs& got, const ConvReference& want, float alpha, float beta,
                   const ConvOutputs& before) {
  CHECK(error_scaled_to_max_or_one(got.y, blended(want.y, alpha, beta, before.y)) < 1e-5);
  CHECK(error_scaled_to_max_or_one(got.dx, blended(want.dx, alpha, beta, before.dx)) < 1e-5);
  CHECK(error_scaled_to_max_or_one(got.dw, blended(want.dw, alpha, beta, before.dw)) < 1e-5);
}

// All three directions of the float32 convolution g dilated by d, blended with alpha and beta.
void check_float_convolution(cudnnHandle_t h, const ConvGeom& g, int d, float alpha, float beta) {
  CAPTURE(describe(g, d, alpha, beta));
  const std::vector<float> x = random_floats(size_t(g.x_size()), 1),
                           w = random_floats(size_t(g.w_size()), 2),
                           dy = random_floats(size_t(dilated(g, d).y_size()), 3);
  const ConvOutputs before = priors(g, d, beta);
  check_outputs(convolve_float(h, g, d, CUDNN_FMA_MATH, x, w, dy, alpha, beta, before),
                ConvReference(g, d, x, w, dy), alpha, beta, before);
}

// A bfloat16 output against the reference: computed in float and rounded once, so within half a
// bfloat16 step of the exact value (at most 2^-8 of it), plus float's rounding.
void check_bf16(const DeviceBuffer<BF16>& got, const ref::Vec& want) {
  CHECK(error_scaled_to_max_or_one(widened(got.to_vector()), want) < 1.0 / 250);
}

// Column-major op(M)(i, j) of a matrix with leading dimension ld.
double at(const std::vector<float>& m, cublasOperation_t op, int ld, int i, int j) {
  return op == CUBLAS_OP_N ? m[size_t(i) + size_t(j) * size_t(ld)]
                           : m[size_t(j) + size_t(i) * size_t(ld)];
}

// alpha op(A) op(B) + beta C over C's m x n block; what lies between C's columns is kept.
ref::Vec gemm_reference(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                        double alpha, const std::vector<float>& a, int lda,
                        const std::vector<float>& b, int ldb, double beta,
                        const std::vector<float>& c, int ldc) {
  ref::Vec out = to_double(c);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int l = 0; l < k; ++l) acc += at(a, ta, lda, i, l) * at(b, tb, ldb, l, j);
      const size_t ci = size_t(i) + size_t(j) * size_t(ldc);
      out[ci] = alpha * acc + (beta == 0 ? 0.0 : beta * double(c[ci]));
    }
  return out;
}

}  // namespace

TEST_CASE("fake cuDNN: convolutions in float32 match the reference in every direction") {
  const Cudnn dnn;
  const std::pair<float, float> kScales[] = {{1.f, 0.f}, {0.5f, 1.f}, {-2.f, 0.25f}};
  for (const ConvGeom& g : kGeoms)
    for (auto [alpha, beta] : kScales) check_float_convolution(dnn.h, g, 1, alpha, beta);
  // Dilation, with and without stride and padding.
  check_float_convolution(dnn.h, {2, 9, 8, 3, 4, 3, 3, 1, 2}, 2, 1.f, 0.f);
  check_float_convolution(dnn.h, {2, 11, 10, 2, 3, 3, 2, 2, 1}, 3, 0.5f, 1.f);
}

TEST_CASE("fake cuDNN: float32 convolutions take TF32 operands where the math type allows them") {
  const Cudnn dnn;
  // Through im2col, and pointwise (where the col matrix is x itself).
  for (const ConvGeom& g : {kGeoms[1], kGeoms[2]})
    for (auto [alpha, beta] : {std::pair{1.f, 0.f}, std::pair{0.5f, 1.f}}) {
      CAPTURE(describe(g, 1, alpha, beta));
      const std::vector<float> x = random_floats(size_t(g.x_size()), 61),
                               w = random_floats(size_t(g.w_size()), 62),
                               dy = random_floats(size_t(g.y_size()), 63);
      const ConvOutputs before = priors(g, 1, beta);
      const ConvOutputs fp32 =
          convolve_float(dnn.h, g, 1, CUDNN_FMA_MATH, x, w, dy, alpha, beta, before);
      check_outputs(fp32, ConvReference(g, 1, x, w, dy), alpha, beta, before);
      // The products of TF32 operands, summed in float32; the prior values blended unrounded.
      const ConvReference rounded(g, 1, tf32_rounded(x), tf32_rounded(w), tf32_rounded(dy));
      for (cudnnMathType_t math : {CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH}) {
        CAPTURE(int(math));
        const ConvOutputs tf32 = convolve_float(dnn.h, g, 1, math, x, w, dy, alpha, beta, before);
        check_outputs(tf32, rounded, alpha, beta, before);
        CHECK(error_scaled_to_max_or_one(tf32.y, to_double(fp32.y)) > kTf32Apart);
        CHECK(error_scaled_to_max_or_one(tf32.dx, to_double(fp32.dx)) > kTf32Apart);
        CHECK(error_scaled_to_max_or_one(tf32.dw, to_double(fp32.dw)) > kTf32Apart);
        const ScopedEnv off("NVIDIA_TF32_OVERRIDE", "0");  // TF32 off whatever the math type
        const ConvOutputs overridden =
            convolve_float(dnn.h, g, 1, math, x, w, dy, alpha, beta, before);
        CHECK((overridden.y == fp32.y && overridden.dx == fp32.dx && overridden.dw == fp32.dw));
      }
    }
}

TEST_CASE("fake cuDNN: convolutions on bfloat16 compute in float and round once") {
  const Cudnn dnn;
  for (const ConvGeom& g : {kGeoms[1], kGeoms[3]})
    for (float beta : {0.f, 1.f}) {
      CAPTURE(describe(g, 1, 1.f, beta));
      // Values that bfloat16 holds exactly, so the reference sees what the fake sees.
      const auto bf16_values = [](size_t n, uint32_t seed) {
        return widened(to_bf16(random_floats(n, seed)));
      };
      const size_t xn = size_t(g.x_size()), wn = size_t(g.w_size()), yn = size_t(g.y_size());
      const std::vector<float> x = bf16_values(xn, 7), w = bf16_values(wn, 8),
                               dy = bf16_values(yn, 9);
      const std::vector<float> y0 = beta == 0.f ? prior(yn, beta, 0) : bf16_values(yn, 10);
      const std::vector<float> dx0 = beta == 0.f ? prior(xn, beta, 0) : bf16_values(xn, 11);
      const std::vector<float> dw0 = beta == 0.f ? prior(wn, beta, 0) : bf16_values(wn, 12);
      const ConvReference want(g, 1, x, w, dy);
      const ConvDescriptors desc(g, 1, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_OP_MATH);
      DeviceBuffer<BF16> bx(xn), bw(wn), bdy(yn), by(yn), bdx(xn), bdw(wn);
      bx.assign(to_bf16(x));
      bw.assign(to_bf16(w));
      bdy.assign(to_bf16(dy));
      by.assign(to_bf16(y0));
      bdx.assign(to_bf16(dx0));
      bdw.assign(to_bf16(dw0));
      const float one = 1.f;
      REQUIRE(cudnnConvolutionForward(dnn.h, &one, desc.x, bx.data(), desc.w, bw.data(),
                                      desc.conv, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                      nullptr, 0, &beta, desc.y, by.data()) ==
              CUDNN_STATUS_SUCCESS);
      REQUIRE(cudnnConvolutionBackwardData(dnn.h, &one, desc.w, bw.data(), desc.y, bdy.data(),
                                           desc.conv, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, nullptr,
                                           0, &beta, desc.x, bdx.data()) == CUDNN_STATUS_SUCCESS);
      REQUIRE(cudnnConvolutionBackwardFilter(dnn.h, &one, desc.x, bx.data(), desc.y, bdy.data(),
                                             desc.conv, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
                                             nullptr, 0, &beta, desc.w,
                                             bdw.data()) == CUDNN_STATUS_SUCCESS);
      check_bf16(by, blended(want.y, 1, beta, y0));
      check_bf16(bdx, blended(want.dx, 1, beta, dx0));
      check_bf16(bdw, blended(want.dw, 1, beta, dw0));
    }
}

TEST_CASE("fake cuDNN: algorithm queries offer deterministic, workspace-free algorithms") {
  const Cudnn dnn;
  const ConvGeom g = kGeoms[0];
  for (cudnnDataType_t type : {CUDNN_DATA_FLOAT, CUDNN_DATA_BFLOAT16})
    for (cudnnMathType_t math : {CUDNN_FMA_MATH, CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH}) {
      CAPTURE(int(type));
      CAPTURE(int(math));
      const ConvDescriptors desc(g, 1, type, math);
      int count = 0;
      REQUIRE(cudnnGetConvolutionForwardAlgorithmMaxCount(dnn.h, &count) == CUDNN_STATUS_SUCCESS);
      CHECK(count == CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(count));
      int returned = 0;
      REQUIRE(cudnnGetConvolutionForwardAlgorithm_v7(dnn.h, desc.x, desc.w, desc.conv, desc.y,
                                                     count, &returned,
                                                     perf.data()) == CUDNN_STATUS_SUCCESS);
      CHECK(returned == count);
      int supported = 0;
      for (int i = 0; i < returned; ++i) {
        const auto& r = perf[size_t(i)];
        size_t bytes = 1;
        const cudnnStatus_t ws = cudnnGetConvolutionForwardWorkspaceSize(
            dnn.h, desc.x, desc.w, desc.conv, desc.y, r.algo, &bytes);
        CHECK(ws == r.status);
        if (r.status != CUDNN_STATUS_SUCCESS) continue;
        ++supported;
        CHECK(r.determinism == CUDNN_DETERMINISTIC);
        CHECK(r.mathType == math);
        CHECK(r.memory == 0);
        CHECK(bytes == 0);
      }
      CHECK(supported == 2);
      // Find writes trial results into the output: garbage to the caller.
      const size_t e = type == CUDNN_DATA_FLOAT ? 4 : 2;
      DeviceBuffer<uint8_t> x(size_t(g.x_size()) * e), w(size_t(g.w_size()) * e),
          y(size_t(g.y_size()) * e);
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> found(3);
      REQUIRE(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                  dnn.h, desc.x, x.data(), desc.y, y.data(), desc.conv, desc.w, w.data(), 3,
                  &returned, found.data(), nullptr, 0) == CUDNN_STATUS_SUCCESS);
      CHECK(returned == 3);
      CHECK(found[0].status == CUDNN_STATUS_SUCCESS);
      CHECK(found[2].status == CUDNN_STATUS_NOT_SUPPORTED);
      CHECK(w[0] == 0xff);
    }
  // An algorithm that the queries call unsupported does not run either, and says why.
  const ConvDescriptors desc(g, 1, CUDNN_DATA_FLOAT);
  DeviceBuffer<float> x(size_t(g.x_size())), w(size_t(g.w_size())), y(size_t(g.y_size()));
  const float one = 1.f, zero = 0.f;
  CHECK(cudnnConvolutionForward(dnn.h, &one, desc.x, x.data(), desc.w, w.data(), desc.conv,
                                CUDNN_CONVOLUTION_FWD_ALGO_FFT, nullptr, 0, &zero, desc.y,
                                y.data()) == CUDNN_STATUS_NOT_SUPPORTED);
  char why[256] = {};
  cudnnGetLastErrorString(why, sizeof why);
  CHECK(std::string(why).find("algorithm 4") != std::string::npos);
  int n = 0, k = 0, p = 0, q = 0;
  REQUIRE(cudnnGetConvolution2dForwardOutputDim(desc.conv, desc.x, desc.w, &n, &k, &p, &q) ==
          CUDNN_STATUS_SUCCESS);
  CHECK((n == g.n && k == g.k && p == g.p() && q == g.q()));
}

TEST_CASE("fake cuDNN: batch norm training, inference and backward match the reference") {
  const Cudnn dnn;
  const BnGeom g{4, 3, 5, 6};
  const int64_t rows = g.rows();
  const size_t n = size_t(rows * g.c), c = size_t(g.c);
  const double eps = 1e-3, momentum = 0.1;
  const std::vector<float> x = random_floats(n, 21, -1.f, 3.f), gamma = random_floats(c, 22),
                           beta = random_floats(c, 23), dy = random_floats(n, 24);
  const std::vector<float> mean0 = random_floats(c, 25), var0 = random_floats(c, 26, 0.5f, 2.f);
  TensorDescriptor xd, pd;
  REQUIRE(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, g.n, g.c, g.h,
                                     g.w) == CUDNN_STATUS_SUCCESS);
  REQUIRE(cudnnDeriveBNTensorDescriptor(pd, xd, CUDNN_BATCHNORM_SPATIAL) == CUDNN_STATUS_SUCCESS);
  DeviceBuffer<float> dx_(n), dgamma(c), dbeta(c), ddy(n), dmean(c), dvar(c), dsave_mean(c),
      dsave_invstd(c), dy_out(n), ddx(n), ddgamma(c), ddbeta(c);
  dx_.assign(x);
  dgamma.assign(gamma);
  dbeta.assign(beta);
  ddy.assign(dy);
  dmean.assign(mean0);
  dvar.assign(var0);

  // Training, alpha = 0.5 and beta = 2 onto prior values of y.
  const ref::BatchNormOut want = ref::batchnorm_train(rows, g.c, to_double(x), to_double(gamma),
                                                      to_double(beta), eps, momentum,
                                                      to_double(mean0), to_double(var0));
  const std::vector<float> y0 = random_floats(n, 27);
  dy_out.assign(y0);
  const float half = 0.5f, two = 2.f, one = 1.f, zero = 0.f;
  REQUIRE(cudnnBatchNormalizationForwardTraining(
              dnn.h, CUDNN_BATCHNORM_SPATIAL, &half, &two, xd, dx_.data(), xd, dy_out.data(), pd,
              dgamma.data(), dbeta.data(), momentum, dmean.data(), dvar.data(), eps,
              dsave_mean.data(), dsave_invstd.data()) == CUDNN_STATUS_SUCCESS);
  CHECK(error_scaled_to_max_or_one(dy_out.to_vector(), blended(want.y, 0.5, 2, y0)) < 1e-5);
  CHECK(error_scaled_to_max_or_one(dmean.to_vector(), want.running_mean) < 1e-6);
  CHECK(error_scaled_to_max_or_one(dvar.to_vector(), want.running_var) < 1e-6);
  ref::Vec mean(c), invstd(c);  // what the forward saves: the batch's, biased
  for (size_t j = 0; j < c; ++j) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < rows; ++i) s += x[size_t(i) * c + j];
    mean[j] = s / double(rows);
    for (int64_t i = 0; i < rows; ++i) ss += std::pow(x[size_t(i) * c + j] - mean[j], 2);
    invstd[j] = 1 / std::sqrt(ss / double(rows) + eps);
  }
  CHECK(error_scaled_to_max_or_one(dsave_mean.to_vector(), mean) < 1e-6);
  CHECK(error_scaled_to_max_or_one(dsave_invstd.to_vector(), invstd) < 1e-6);

  // Inference from the running statistics, onto NaN.
  dy_out.assign(std::vector<float>(n, kNaN));
  REQUIRE(cudnnBatchNormalizationForwardInference(
              dnn.h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, dx_.data(), xd, dy_out.data(), pd,
              dgamma.data(), dbeta.data(), dmean.data(), dvar.data(), eps) ==
          CUDNN_STATUS_SUCCESS);
  CHECK(error_scaled_to_max_or_one(dy_out.to_vector(),
                         ref::batchnorm_eval(rows, g.c, to_double(x), to_double(gamma),
                                             to_double(beta), to_double(dmean.to_vector()),
                                             to_double(dvar.to_vector()), eps)) < 1e-5);

  // Backward with the saved statistics and without (recomputed): dx overwritten (onto NaN) or
  // blended 0.5 * dx + prior; parameter gradients accumulated onto prior values.
  const ref::BatchNormGrads grads =
      ref::batchnorm_backward(rows, g.c, to_double(x), to_double(gamma), eps, to_double(dy));
  for (bool saved : {true, false})
    for (auto [alpha, beta_data] : {std::pair{1.f, 0.f}, std::pair{0.5f, 1.f}}) {
      CAPTURE(saved);
      CAPTURE(alpha);
      const std::vector<float> dx0 = prior(n, beta_data, 28), dg0 = random_floats(c, 29),
                               db0 = random_floats(c, 30);
      ddx.assign(dx0);
      ddgamma.assign(dg0);
      ddbeta.assign(db0);
      REQUIRE(cudnnBatchNormalizationBackward(
                  dnn.h, CUDNN_BATCHNORM_SPATIAL, &alpha, &beta_data, &one, &one, xd, dx_.data(),
                  xd, ddy.data(), xd, ddx.data(), pd, dgamma.data(), ddgamma.data(), ddbeta.data(),
                  eps, saved ? dsave_mean.data() : nullptr,
                  saved ? dsave_invstd.data() : nullptr) == CUDNN_STATUS_SUCCESS);
      CHECK(error_scaled_to_max_or_one(ddx.to_vector(), blended(grads.dx, alpha, beta_data, dx0)) <
            1e-5);
      CHECK(error_scaled_to_max_or_one(ddgamma.to_vector(), blended(grads.dgamma, 1, 1, dg0)) <
            1e-5);
      CHECK(error_scaled_to_max_or_one(ddbeta.to_vector(), blended(grads.dbeta, 1, 1, db0)) < 1e-5);
    }
  CHECK(cudnnBatchNormalizationForwardTraining(
            dnn.h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, dx_.data(), xd, dy_out.data(), pd,
            dgamma.data(), dbeta.data(), momentum, dmean.data(), nullptr, eps, nullptr,
            nullptr) == CUDNN_STATUS_BAD_PARAM);  // half of the running pair
  CHECK(cudnnBatchNormalizationForwardInference(dnn.h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd,
                                                dx_.data(), xd, dy_out.data(), pd, dgamma.data(),
                                                dbeta.data(), dmean.data(), dvar.data(), -1.0) ==
        CUDNN_STATUS_BAD_PARAM);  // epsilon below CUDNN_BN_MIN_EPSILON
}

TEST_CASE("fake cuBLAS: GEMMs with transposes, leading dimensions, alpha and beta") {
  const Cublas blas;
  const int m = 5, n = 7, k = 6, pad = 3;  // leading dimensions `pad` past the minimum
  for (cublasOperation_t ta : {CUBLAS_OP_N, CUBLAS_OP_T})
    for (cublasOperation_t tb : {CUBLAS_OP_N, CUBLAS_OP_T})
      for (auto [alpha, beta] : {std::pair{1.f, 0.f}, std::pair{0.5f, 1.f}}) {
        CAPTURE(int(ta));
        CAPTURE(int(tb));
        CAPTURE(beta);
        const int lda = (ta == CUBLAS_OP_N ? m : k) + pad, ldb = (tb == CUBLAS_OP_N ? k : n) + pad;
        const int ldc = m + pad, a_cols = ta == CUBLAS_OP_N ? k : m;
        const int b_cols = tb == CUBLAS_OP_N ? n : k;
        const std::vector<float> a = random_floats(size_t(lda) * size_t(a_cols), 31);
        const std::vector<float> b = random_floats(size_t(ldb) * size_t(b_cols), 32);
        // C's columns on random values (kept between the columns), NaN inside when beta == 0.
        std::vector<float> c = random_floats(size_t(ldc) * size_t(n), 33);
        if (beta == 0.f)
          for (int j = 0; j < n; ++j)
            std::fill(c.begin() + j * ldc, c.begin() + j * ldc + m, kNaN);
        const ref::Vec want = gemm_reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

        DeviceBuffer<float> da(a.size()), db(b.size()), dc(c.size());
        da.assign(a);
        db.assign(b);
        dc.assign(c);
        REQUIRE(cublasSgemm(blas.h, ta, tb, m, n, k, &alpha, da.data(), lda, db.data(), ldb,
                            &beta, dc.data(), ldc) == CUBLAS_STATUS_SUCCESS);
        CHECK(error_scaled_to_max_or_one(dc.to_vector(), want) < 1e-6);

        // bfloat16 operands into a bfloat16 C: the same on the rounded values, rounded once.
        const std::vector<float> ar = widened(to_bf16(a)), br = widened(to_bf16(b));
        const std::vector<float> cr = widened(to_bf16(c));
        DeviceBuffer<BF16> ha(a.size()), hb(b.size()), hc(c.size());
        ha.assign(to_bf16(a));
        hb.assign(to_bf16(b));
        hc.assign(to_bf16(c));
        REQUIRE(cublasGemmEx(blas.h, ta, tb, m, n, k, &alpha, ha.data(), CUDA_R_16BF, lda,
                             hb.data(), CUDA_R_16BF, ldb, &beta, hc.data(), CUDA_R_16BF, ldc,
                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
        check_bf16(hc, gemm_reference(ta, tb, m, n, k, alpha, ar, lda, br, ldb, beta, cr, ldc));
      }
  float one = 1.f;
  DeviceBuffer<float> a(4);
  CHECK(cublasSgemm(blas.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, a.data(), 1, a.data(), 2,
                    &one, a.data(), 2) == CUBLAS_STATUS_INVALID_VALUE);  // lda < m
  CHECK(cublasGemmEx(blas.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, a.data(), CUDA_R_32F, 2,
                     a.data(), CUDA_R_16BF, 2, &one, a.data(), CUDA_R_32F, 2, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_SUPPORTED);  // mixed inputs
}

TEST_CASE("fake cuBLAS: float32 GEMMs take TF32 operands under CUBLAS_TF32_TENSOR_OP_MATH") {
  const Cublas blas;
  const int m = 6, n = 5, k = 40, lda = k + 2, ldb = k, ldc = m + 1;  // C = 1.5 A^T B + 0.5 C
  const float alpha = 1.5f, beta = 0.5f;
  const std::vector<float> a = random_floats(size_t(lda) * size_t(m), 71);
  const std::vector<float> b = random_floats(size_t(ldb) * size_t(n), 72);
  const std::vector<float> c = random_floats(size_t(ldc) * size_t(n), 73);
  const ref::Vec exact =
      gemm_reference(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  // C's prior values are blended unrounded, as the tensor cores' float32 accumulator holds them.
  const ref::Vec rounded = gemm_reference(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, alpha, tf32_rounded(a),
                                          lda, tf32_rounded(b), ldb, beta, c, ldc);
  for (bool ex : {false, true}) {
    CAPTURE(ex);
    const auto run = [&](cublasMath_t mode) {
      REQUIRE(cublasSetMathMode(blas.h, mode) == CUBLAS_STATUS_SUCCESS);
      DeviceBuffer<float> da(a.size()), db(b.size()), dc(c.size());
      da.assign(a);
      db.assign(b);
      dc.assign(c);
      REQUIRE((ex ? cublasGemmEx(blas.h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, da.data(),
                                 CUDA_R_32F, lda, db.data(), CUDA_R_32F, ldb, &beta, dc.data(),
                                 CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)
                  : cublasSgemm(blas.h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, da.data(), lda,
                                db.data(), ldb, &beta, dc.data(), ldc)) == CUBLAS_STATUS_SUCCESS);
      CHECK((da.to_vector() == a && db.to_vector() == b));  // TF32 rounds copies
      return dc.to_vector();
    };
    const std::vector<float> fp32 = run(CUBLAS_DEFAULT_MATH);
    CHECK(error_scaled_to_max_or_one(fp32, exact) < 1e-6);
    const std::vector<float> tf32 = run(CUBLAS_TF32_TENSOR_OP_MATH);
    CHECK(error_scaled_to_max_or_one(tf32, rounded) < 1e-6);
    CHECK(error_scaled_to_max_or_one(tf32, to_double(fp32)) > kTf32Apart);
    const ScopedEnv off("NVIDIA_TF32_OVERRIDE", "0");
    CHECK(run(CUBLAS_TF32_TENSOR_OP_MATH) == fp32);
  }
}

TEST_CASE("TF32 rounding: to nearest, ties away from zero, on the bit pattern") {
  const auto rounded = [](uint32_t bits) {
    return std::bit_cast<uint32_t>(round_to_tf32(std::bit_cast<float>(bits)));
  };
  CHECK(rounded(0x3f800000) == 0x3f800000);  // 1: already TF32
  CHECK(rounded(0x3f806000) == 0x3f806000);  // an odd last TF32 bit stays
  CHECK(rounded(0x3f800fff) == 0x3f800000);  // below half a TF32 ulp: down
  CHECK(rounded(0x3f801001) == 0x3f802000);  // above: up
  // Ties away from zero, from an even last bit too (to nearest even would keep 1 and -1).
  CHECK(rounded(0x3f801000) == 0x3f802000);
  CHECK(rounded(0xbf801000) == 0xbf802000);
  CHECK(rounded(0x3f803000) == 0x3f804000);
  CHECK(rounded(0xbf800fff) == 0xbf800000);  // negative, below the tie: toward zero
  // The mantissa overflows into the exponent: 2 - 2^-23 rounds to 2, the tie -4 + 2^-10 to -4.
  CHECK(rounded(0x3fffffff) == 0x40000000);
  CHECK(rounded(0xc07ff000) == 0xc0800000);
  CHECK(rounded(0x7f7fffff) == 0x7f800000);  // the largest float: to infinity
  CHECK(rounded(0x00001000) == 0x00002000);  // subnormals round the same way
  CHECK(rounded(0x80000fff) == 0x80000000);  // to -0, sign kept
  // Infinities and NaNs are kept, payload and sign included (the addition would carry a payload
  // into the sign, or clear a low one to infinity).
  CHECK(rounded(0x7f800000) == 0x7f800000);
  CHECK(rounded(0xff800000) == 0xff800000);
  CHECK(rounded(0x7fc00000) == 0x7fc00000);
  CHECK(rounded(0x7f800001) == 0x7f800001);
  CHECK(rounded(0x7fffffff) == 0x7fffffff);
  CHECK(rounded(0xffc01234) == 0xffc01234);
}

TEST_CASE("fake cuDNN and cuBLAS refuse host memory where the device's is needed") {
  const Cudnn dnn;
  const Cublas blas;
  const ConvGeom g = kGeoms[0];
  const ConvDescriptors desc(g, 1, CUDNN_DATA_FLOAT);
  DeviceBuffer<float> x(size_t(g.x_size())), w(size_t(g.w_size())), y(size_t(g.y_size()));
  std::vector<float> host(size_t(g.y_size()));
  DeviceBuffer<float> short_y(size_t(g.y_size()) - 1);
  const float one = 1.f, zero = 0.f;
  const auto forward = [&](const float* xp, float* yp) {
    return cudnnConvolutionForward(dnn.h, &one, desc.x, xp, desc.w, w.data(), desc.conv,
                                   CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero,
                                   desc.y, yp);
  };
  CHECK(forward(x.data(), y.data()) == CUDNN_STATUS_SUCCESS);
  CHECK(forward(x.data(), host.data()) == CUDNN_STATUS_BAD_PARAM);
  CHECK(forward(host.data(), y.data()) == CUDNN_STATUS_BAD_PARAM);
  CHECK(forward(x.data(), short_y.data()) == CUDNN_STATUS_BAD_PARAM);  // smaller than the tensor
  std::vector<float> host_ws(16);
  CHECK(cudnnConvolutionForward(dnn.h, &one, desc.x, x.data(), desc.w, w.data(), desc.conv,
                                CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, host_ws.data(),
                                sizeof(float) * host_ws.size(), &zero, desc.y,
                                y.data()) == CUDNN_STATUS_BAD_PARAM);

  TensorDescriptor xd, pd;
  REQUIRE(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 4, 1, 1) ==
          CUDNN_STATUS_SUCCESS);
  REQUIRE(cudnnDeriveBNTensorDescriptor(pd, xd, CUDNN_BATCHNORM_SPATIAL) == CUDNN_STATUS_SUCCESS);
  std::vector<float> host_params(4);
  CHECK(cudnnBatchNormalizationForwardInference(
            dnn.h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, x.data(), xd, y.data(), pd,
            host_params.data(), w.data(), w.data(), w.data(), 1e-5) == CUDNN_STATUS_BAD_PARAM);

  CHECK(cublasSgemm(blas.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, x.data(), 2, host.data(), 2,
                    &zero, y.data(), 2) == CUBLAS_STATUS_INVALID_VALUE);
}

TEST_CASE("fake cuDNN and cuBLAS calls made while a stream is captured run at graph launch") {
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
  const ConvGeom g = kGeoms[1];
  DeviceBuffer<float> x(size_t(g.x_size())), w(size_t(g.w_size())), y(size_t(g.y_size()));
  DeviceBuffer<float> a(6), c(4);
  w.assign(random_floats(w.size(), 41));
  a.assign({1, 2, 3, 4, 5, 6});
  y.assign(std::vector<float>(y.size(), kNaN));
  cudaGraph_t graph = nullptr;
  {
    const Cudnn dnn;
    const Cublas blas;
    REQUIRE(cudnnSetStream(dnn.h, stream) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cublasSetStream(blas.h, stream) == CUBLAS_STATUS_SUCCESS);
    const ConvDescriptors desc(g, 1, CUDNN_DATA_FLOAT);
    float one = 1.f, zero = 0.f;
    REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal) == cudaSuccess);
    REQUIRE(cudnnConvolutionForward(dnn.h, &one, desc.x, x.data(), desc.w, w.data(), desc.conv,
                                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero,
                                    desc.y, y.data()) == CUDNN_STATUS_SUCCESS);
    // C = A A^T, A 2 x 3 column-major.
    REQUIRE(cublasSgemm(blas.h, CUBLAS_OP_N, CUBLAS_OP_T, 2, 2, 3, &one, a.data(), 2, a.data(),
                        2, &zero, c.data(), 2) == CUBLAS_STATUS_SUCCESS);
    REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
    one = 2.f;  // alpha was read when the call was recorded
  }  // the handles and descriptors are gone: the graph holds copies of what it needs
  CHECK(std::isnan(y[0]));
  CHECK(c.to_vector() == std::vector<float>(4, 0.f));
  size_t nodes = 0;
  REQUIRE(cudaGraphGetNodes(graph, nullptr, &nodes) == cudaSuccess);
  CHECK(nodes == 2);

  // The graph reads its inputs when it runs, as a recorded kernel does.
  const std::vector<float> xv = random_floats(x.size(), 42);
  x.assign(xv);
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
  CHECK(error_scaled_to_max_or_one(y.to_vector(),
                         ref::conv2d_forward(g, to_double(xv), to_double(w.to_vector()),
                                             nullptr)) < 1e-5);
  CHECK(c.to_vector() == std::vector<float>{35, 44, 44, 56});
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

TEST_CASE("fake cuDNN and cuBLAS take the math type when the call is made, not when it runs") {
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
  const ConvGeom g = kGeoms[0];
  const std::vector<float> xv = random_floats(size_t(g.x_size()), 81),
                           wv = random_floats(size_t(g.w_size()), 82),
                           av = random_floats(size_t(8 * 30), 83);
  DeviceBuffer<float> x(xv.size()), w(wv.size()), y_tf32(size_t(g.y_size())),
      y_fp32(size_t(g.y_size())), a(av.size()), c_tf32(64), c_fp32(64);
  x.assign(xv);
  w.assign(wv);
  a.assign(av);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  {
    const Cudnn dnn;
    const Cublas blas;
    REQUIRE(cudnnSetStream(dnn.h, stream) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cublasSetStream(blas.h, stream) == CUBLAS_STATUS_SUCCESS);
    const ConvDescriptors desc(g, 1, CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH);
    const float one = 1.f, zero = 0.f;
    const auto forward = [&](float* y) {
      REQUIRE(cudnnConvolutionForward(dnn.h, &one, desc.x, x.data(), desc.w, w.data(), desc.conv,
                                      CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero,
                                      desc.y, y) == CUDNN_STATUS_SUCCESS);
    };
    // C = A^T A, A 30 x 8 column-major.
    const auto gram = [&](float* c) {
      REQUIRE(cublasSgemm(blas.h, CUBLAS_OP_T, CUBLAS_OP_N, 8, 8, 30, &one, a.data(), 30, a.data(),
                          30, &zero, c, 8) == CUBLAS_STATUS_SUCCESS);
    };
    REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal) == cudaSuccess);
    forward(y_tf32.data());
    REQUIRE(cudnnSetConvolutionMathType(desc.conv, CUDNN_FMA_MATH) == CUDNN_STATUS_SUCCESS);
    forward(y_fp32.data());
    REQUIRE(cudnnSetConvolutionMathType(desc.conv, CUDNN_TENSOR_OP_MATH) == CUDNN_STATUS_SUCCESS);
    REQUIRE(cublasSetMathMode(blas.h, CUBLAS_TF32_TENSOR_OP_MATH) == CUBLAS_STATUS_SUCCESS);
    gram(c_tf32.data());
    REQUIRE(cublasSetMathMode(blas.h, CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS);
    gram(c_fp32.data());
    REQUIRE(cublasSetMathMode(blas.h, CUBLAS_TF32_TENSOR_OP_MATH) == CUBLAS_STATUS_SUCCESS);
    REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
    // Launched while the descriptor and the handle hold TF32 modes: each call still runs under
    // the mode it was made with.
    REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
    REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
  }
  const ref::Vec y_exact = ref::conv2d_forward(g, to_double(xv), to_double(wv), nullptr);
  const ref::Vec y_rounded =
      ref::conv2d_forward(g, to_double(tf32_rounded(xv)), to_double(tf32_rounded(wv)), nullptr);
  CHECK(error_scaled_to_max_or_one(y_fp32.to_vector(), y_exact) < 1e-5);
  CHECK(error_scaled_to_max_or_one(y_tf32.to_vector(), y_rounded) < 1e-5);
  CHECK(error_scaled_to_max_or_one(y_tf32.to_vector(), to_double(y_fp32.to_vector())) > kTf32Apart);
  const std::vector<float> ar = tf32_rounded(av), unread(64, kNaN);
  const ref::Vec c_exact =
      gemm_reference(CUBLAS_OP_T, CUBLAS_OP_N, 8, 8, 30, 1, av, 30, av, 30, 0, unread, 8);
  const ref::Vec c_rounded =
      gemm_reference(CUBLAS_OP_T, CUBLAS_OP_N, 8, 8, 30, 1, ar, 30, ar, 30, 0, unread, 8);
  CHECK(error_scaled_to_max_or_one(c_fp32.to_vector(), c_exact) < 1e-6);
  CHECK(error_scaled_to_max_or_one(c_tf32.to_vector(), c_rounded) < 1e-6);
  CHECK(error_scaled_to_max_or_one(c_tf32.to_vector(), to_double(c_fp32.to_vector())) > kTf32Apart);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

// The fake computes on TF32 operands exactly where cuDNN may, so the float32 results also show
// that the engine asks for FP32 math when TF32 is off, and that with it on, it leaves cuDNN free to
// use TF32.
TEST_CASE("the engine's CudnnConv finds an algorithm on the fake under every policy") {
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
  {
    const Cudnn dnn;
    REQUIRE(cudnnSetStream(dnn.h, stream) == CUDNN_STATUS_SUCCESS);
    DeviceScratch workspace(stream);
    CudnnConv conv;
    const ConvGeom g = kGeoms[1];
    const size_t xn = size_t(g.x_size()), wn = size_t(g.w_size()), yn = size_t(g.y_size());
    const std::vector<float> x = widened(to_bf16(random_floats(xn, 51)));
    const std::vector<float> w = widened(to_bf16(random_floats(wn, 52)));
    const std::vector<float> dy = widened(to_bf16(random_floats(yn, 53)));
    const ConvReference want(g, 1, x, w, dy);
    // Float32 values that TF32 does not hold.
    const std::vector<float> xf = random_floats(xn, 55), wf = random_floats(wn, 56),
                             dyf = random_floats(yn, 57);
    const ConvReference want_fp32(g, 1, xf, wf, dyf);
    const ConvReference want_tf32(g, 1, tf32_rounded(xf), tf32_rounded(wf), tf32_rounded(dyf));
    for (bool tf32 : {false, true})
      for (bool deterministic : {false, true}) {
        CAPTURE(tf32);
        CAPTURE(deterministic);
        const ConvPolicy policy{tf32, deterministic};
        DeviceBuffer<float> fx(xn), fw(wn), fdy(yn), fy(yn), fdx(xn), fdw(wn);
        fx.assign(xf);
        fw.assign(wf);
        fdy.assign(dyf);
        const std::vector<float> dw0 = random_floats(wn, 54);
        fdw.assign(dw0);
        conv.forward(dnn.h, workspace, g, policy, fx.data(), fw.data(), fy.data());
        conv.backward_data(dnn.h, workspace, g, policy, fdy.data(), fw.data(), fdx.data());
        conv.backward_filter(dnn.h, workspace, g, policy, fx.data(), fdy.data(), fdw.data(),
                             true);  // accumulating: Find must not spoil dw
        const ConvReference& wantf = tf32 ? want_tf32 : want_fp32;
        CHECK(error_scaled_to_max_or_one(fy.to_vector(), wantf.y) < 1e-5);
        CHECK(error_scaled_to_max_or_one(fdx.to_vector(), wantf.dx) < 1e-5);
        CHECK(error_scaled_to_max_or_one(fdw.to_vector(), blended(wantf.dw, 1, 1, dw0)) < 1e-5);

        DeviceBuffer<BF16> bx(xn), bw(wn), bdy(yn), by(yn), bdx(xn), bdw(wn);
        bx.assign(to_bf16(x));
        bw.assign(to_bf16(w));
        bdy.assign(to_bf16(dy));
        conv.forward(dnn.h, workspace, g, policy, bx.data(), bw.data(), by.data());
        conv.backward_data(dnn.h, workspace, g, policy, bdy.data(), bw.data(), bdx.data());
        conv.backward_filter(dnn.h, workspace, g, policy, bx.data(), bdy.data(), bdw.data());
        check_bf16(by, want.y);
        check_bf16(bdx, want.dx);
        check_bf16(bdw, want.dw);
      }
  }
  cudaStreamDestroy(stream);
}
