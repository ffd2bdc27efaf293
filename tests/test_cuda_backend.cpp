// The CUDA backend against the CPU backend: every op of the shared op table (outputs, input
// gradients, side outputs; float32 and bf16 activations) with a per-op tolerance, in FP32 (TF32
// off) and with TF32 allowed, and in deterministic mode; plus the fused optimizer updates, memory
// round trips, and parameter gradients accumulated into their buffers (every op that offers it,
// called on the backend directly). The kernels under test: kernels/cuda/elementwise.cu,
// softmax.cu, softmax_xent.cu, pooling.cu, linear_bias.cu, optimizers.cu, metrics.cu,
// batchnorm_relu.cu (also against the composed cuDNN path), and the cuDNN and cuBLAS paths in
// engine/cuda; the staged uploads; concurrent work on the side stream (run_concurrently /
// join_concurrent), eager and recorded. Runs only where a GPU is usable (see gpu_test_main.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/check.h"
#include "metrics_case.h"
#include "op_cases.h"
#include "optimizer_check.h"

using namespace rf;
using namespace rf::test;

TEST_CASE("cuda memory: host -> device -> device -> host round trip") {
  std::vector<float> v(1000003);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 977) - 488.f;
  Tensor d = Tensor::from_host(v, {int64_t(v.size())}, Device::CUDA);
  CHECK(d.clone().to_host() == v);
  CHECK(d.to(Device::CPU).to_host() == v);
}

// The staged uploads (engine/cuda/upload_staging.h) return before the transfer is done: the host
// buffer is rewritten at once, more times than the ring has slots, and every device copy must
// still hold what the buffer held when it was handed over. One copy is large enough to go direct.
TEST_CASE("cuda uploads: the host buffer may be reused as soon as copy_from_host returns") {
  Backend& gpu = cuda_backend();
  std::vector<float> host(1 << 20);
  std::vector<std::unique_ptr<Storage>> copies;
  std::vector<size_t> sizes;
  for (int k = 0; k < 40; ++k) {
    const size_t n = k == 17 ? (size_t(80) << 20) / sizeof(float) : size_t(1 + (k * 7919) % host.size());
    if (host.size() < n) host.resize(n);
    std::fill(host.begin(), host.begin() + std::ptrdiff_t(n), float(k));
    copies.push_back(std::make_unique<Storage>(gpu, n * sizeof(float)));
    gpu.copy_from_host(copies.back()->data(), host.data(), n * sizeof(float));
    sizes.push_back(n);
  }
  for (size_t k = 0; k < copies.size(); ++k) {
    std::vector<float> back(sizes[k]);
    gpu.copy_to_host(back.data(), copies[k]->data(), sizes[k] * sizeof(float));
    CAPTURE(k);
    CHECK(std::all_of(back.begin(), back.end(), [k](float v) { return v == float(k); }));
  }
}

// Bitwise: integer counts, and the same double arithmetic in the same order.
TEST_CASE("cuda accumulate_metrics (metrics.cu) matches the cpu backend bitwise") {
  for (const int cols : {1, 2, 10, 37, 1000}) {
    CAPTURE(cols);
    const MetricsResult want = run_metrics(cpu_backend(), cols), got = run_metrics(cuda_backend(), cols);
    CHECK(got.confusion == want.confusion);
    for (int s = 0; s < kMetricSlots; ++s) {
      CAPTURE(s);
      CHECK((got.totals[size_t(s)] == want.totals[size_t(s)] ||
             (std::isnan(got.totals[size_t(s)]) && std::isnan(want.totals[size_t(s)]))));
    }
  }
}

namespace {

struct Errors {
  double fwd = 0, bwd = 0;
};

// Compares one CUDA run with the CPU run of the same case; side outputs are checked here.
Errors compare(const RunOut& got, const RunOut& want, double tol) {
  Errors e;
  e.fwd = normalized_error(got.y, want.y);
  REQUIRE(got.grads.size() == want.grads.size());
  for (size_t i = 0; i < got.grads.size(); ++i)
    e.bwd = std::max(e.bwd, normalized_error(got.grads[i], want.grads[i]));
  for (const auto& [name, v] : want.extras)
    CHECK_MESSAGE(normalized_error(got.extras.at(name), v) <= tol + 1e-7, name);
  return e;
}

}  // namespace

// Every case in both math modes: FP32 (TF32 off) with the case's own tolerance, and TF32 allowed
// (what real training runs) with the tolerance of gpu_tolerance. The bf16 cases hold their
// gpu_tol in both: a bf16 convolution runs on tensor cores whatever the TF32 setting.
TEST_CASE("cuda backend matches the cpu backend for every op, TF32 off and on") {
  std::printf("%-70s %5s %10s %10s %8s\n", "op (cuda vs cpu)", "math", "forward", "gradients",
              "tol");
  for (const OpCase& c : all_op_cases()) {
    CAPTURE(case_name(c));
    const RunOut want = run_case(c, Device::CPU);
    for (const bool tf32 : {false, true}) {
      CAPTURE(tf32);
      cuda_backend().set_allow_tf32(tf32);
      const double tol = gpu_tolerance(c, tf32);
      const Errors e = compare(run_case(c, Device::CUDA), want, tol);
      std::printf("%-70s %5s %10.2e %10.2e %8.1e\n", case_name(c).c_str(), tf32 ? "tf32" : "fp32",
                  e.fwd, e.bwd, tol);
      CHECK(e.fwd <= tol + 1e-7);
      CHECK(e.bwd <= tol + 1e-7);
    }
  }
  cuda_backend().set_allow_tf32(false);
}

// --deterministic: the same inputs give the same bits twice (a fresh algorithm choice for the
// first run, the cached one for the second), and the result still matches the CPU in FP32.
TEST_CASE("cuda deterministic mode repeats every op bitwise") {
  cuda_backend().set_allow_tf32(false);
  cuda_backend().set_deterministic(true);
  for (const OpCase& c : all_op_cases()) {
    CAPTURE(case_name(c));
    const RunOut first = run_case(c, Device::CUDA);
    const RunOut second = run_case(c, Device::CUDA);
    CHECK(first.y == second.y);
    CHECK(first.grads == second.grads);
    CHECK(first.extras == second.extras);
    const Errors e = compare(first, run_case(c, Device::CPU), c.gpu_tol);
    CHECK(e.fwd <= c.gpu_tol + 1e-7);
    CHECK(e.bwd <= c.gpu_tol + 1e-7);
  }
  cuda_backend().set_deterministic(false);
}

// The order of a bf16 convolution's two roundings, bitwise (see bf16_conv_bias_mismatches).
// Deterministic mode: both convolutions run the same algorithm, so the one without a bias gives
// the very values the bias is added to.
TEST_CASE("cuda bf16 conv2d adds its bias to the rounded convolution, then rounds again") {
  cuda_backend().set_deterministic(true);
  CHECK(bf16_conv_bias_mismatches(Device::CUDA) == 0);
  cuda_backend().set_deterministic(false);
}

TEST_CASE("cuda sgd update (optimizers.cu) matches the reference") {
  check_sgd_variants(Device::CUDA);
}

TEST_CASE("cuda adam update (optimizers.cu) matches the reference") {
  check_adam_variants(Device::CUDA);
}

namespace {

// Everything one call of each fused batch norm + ReLU method writes, on the host.
struct BnReluOut {
  std::vector<float> y, save_mean, save_invstd, running_mean, running_var, eval, dx, dresidual,
      dgamma, dbeta;
};

// Forward (training), backward and eval forward through the CUDA backend: its fused kernels, or,
// when `composed`, Backend's default (cuDNN's batch norm, add, ReLU). The backward masks with
// `backward_y` when given, else with the forward's own output.
BnReluOut run_bn_relu(const BnGeom& g, float mean, bool with_residual, bool composed,
                      const std::vector<float>* backward_y = nullptr) {
  const int64_t n = g.rows() * g.c;
  std::vector<float> xh = uniform(n, 1, -2.f, 2.f);
  for (float& v : xh) v += mean;
  auto on_gpu = [&](const std::vector<float>& v) {
    return Tensor::from_host(v, {int64_t(v.size())}, Device::CUDA);
  };
  const Tensor x = on_gpu(xh), r = on_gpu(uniform(n, 2, -1.f, 1.f)),
               dy = on_gpu(uniform(n, 3, -1.f, 1.f)), gamma = on_gpu(uniform(g.c, 4, 0.5f, 1.5f)),
               beta = on_gpu(uniform(g.c, 5, -0.5f, 0.5f));
  const Tensor rm = on_gpu(uniform(g.c, 6, -0.2f, 0.2f)), rv = on_gpu(uniform(g.c, 7, 0.5f, 2.f));
  const auto empty = [](int64_t count) { return Tensor::empty({count}, Device::CUDA); };
  const Tensor y = empty(n), sm = empty(g.c), si = empty(g.c), eval = empty(n), dx = empty(n),
               dres = empty(n), dgamma = empty(g.c), dbeta = empty(g.c);
  const Tensor mask_y = backward_y ? on_gpu(*backward_y) : y;
  const float* res = with_residual ? r.data() : nullptr;
  float* dres_p = with_residual ? dres.data() : nullptr;
  const float eps = 1.001e-5f, momentum = 0.01f;
  Backend& be = cuda_backend();
  if (composed) {
    be.Backend::batchnorm_relu_forward_train(g, x.data(), res, gamma.data(), beta.data(), eps,
                                             momentum, rm.data(), rv.data(), y.data(), sm.data(),
                                             si.data());
    be.Backend::batchnorm_relu_backward(g, x.data(), mask_y.data(), dy.data(), gamma.data(),
                                        sm.data(), si.data(), eps, dx.data(), dres_p,
                                        dgamma.data(), dbeta.data(), false);
    be.Backend::batchnorm_relu_forward_eval(g, x.data(), res, gamma.data(), beta.data(),
                                            rm.data(), rv.data(), eps, eval.data());
  } else {
    be.batchnorm_relu_forward_train(g, x.data(), res, gamma.data(), beta.data(), eps, momentum,
                                    rm.data(), rv.data(), y.data(), sm.data(), si.data());
    be.batchnorm_relu_backward(g, x.data(), mask_y.data(), dy.data(), gamma.data(), sm.data(),
                               si.data(), eps, dx.data(), dres_p, dgamma.data(), dbeta.data(),
                               false);
    be.batchnorm_relu_forward_eval(g, x.data(), res, gamma.data(), beta.data(), rm.data(),
                                   rv.data(), eps, eval.data());
  }
  BnReluOut o;
  o.y = y.to_host(), o.save_mean = sm.to_host(), o.save_invstd = si.to_host();
  o.running_mean = rm.to_host(), o.running_var = rv.to_host(), o.eval = eval.to_host();
  o.dx = dx.to_host(), o.dgamma = dgamma.to_host(), o.dbeta = dbeta.to_host();
  if (with_residual) o.dresidual = dres.to_host();
  return o;
}

}  // namespace

// The fused kernels at the real shapes (CIFAR batch 128 at 32x32x16, the blog's ResNet50 head at
// batch 250, a mid ResNet50 stage), an awkward one (c = 5: the scalar path) and a mean of 1000
// (the variance's precision), called on the backend directly: two runs give the same bits, and
// they agree with the composed path within the op table's batch-norm tolerance.
TEST_CASE("cuda fused batch norm + ReLU repeats bitwise and matches the composed cuDNN path") {
  struct Case {
    BnGeom g;
    float mean;
  };
  const Case cases[] = {{{128, 32, 32, 16}, 0.f}, {{250, 1, 1, 2048}, 0.f},
                        {{64, 8, 8, 256}, 0.f},   {{7, 3, 3, 5}, 0.f},
                        {{64, 8, 8, 32}, 1000.f}};
  constexpr double kTol = 1e-4;
  for (const Case& c : cases) {
    for (const bool with_residual : {true, false}) {
      char shape[64];
      std::snprintf(shape, sizeof shape, "(%d, %d, %d, %d) mean %g", c.g.n, c.g.h, c.g.w, c.g.c,
                    double(c.mean));
      CAPTURE(shape);
      CAPTURE(with_residual);
      const BnReluOut a = run_bn_relu(c.g, c.mean, with_residual, false);
      const BnReluOut b = run_bn_relu(c.g, c.mean, with_residual, false);
      CHECK(a.y == b.y);
      CHECK(a.save_mean == b.save_mean);
      CHECK(a.save_invstd == b.save_invstd);
      CHECK(a.running_mean == b.running_mean);
      CHECK(a.running_var == b.running_var);
      CHECK(a.eval == b.eval);
      CHECK(a.dx == b.dx);
      CHECK(a.dresidual == b.dresidual);
      CHECK(a.dgamma == b.dgamma);
      CHECK(a.dbeta == b.dbeta);

      // The composed backward masks with the fused forward's output: an output within rounding
      // of the ReLU's kink may fall on either side of it in the two forwards, and its gradient
      // with it.
      const BnReluOut want = run_bn_relu(c.g, c.mean, with_residual, true, &a.y);
      int zeros = 0;
      for (float v : want.y) zeros += v == 0.f;
      CHECK(zeros > int(want.y.size() / 10));  // the ReLU is doing something
      const std::pair<const char*, double> errors[] = {
          {"y", normalized_error(a.y, want.y)},
          {"save_mean", normalized_error(a.save_mean, want.save_mean)},
          {"save_invstd", normalized_error(a.save_invstd, want.save_invstd)},
          {"running_mean", normalized_error(a.running_mean, want.running_mean)},
          {"running_var", normalized_error(a.running_var, want.running_var)},
          {"eval", normalized_error(a.eval, want.eval)},
          {"dx", normalized_error(a.dx, want.dx)},
          {"dresidual", normalized_error(a.dresidual, want.dresidual)},
          {"dgamma", normalized_error(a.dgamma, want.dgamma)},
          {"dbeta", normalized_error(a.dbeta, want.dbeta)}};
      for (const auto& [what, err] : errors) CHECK_MESSAGE(err <= kTol, what << " " << err);
    }
  }
}

// ---- parameter gradients that accumulate (backend.h): each op's parameter gradients added into
// buffers that hold a prior against the same op overwriting, directly on the backend ----
namespace {

// What an output of the op under test must be after the accumulating call (B, into a prior P),
// given what the overwriting call wrote (A).
enum class Sum {
  exact,        // B == P + A bitwise: our kernels add the finished float gradient once
  rounded,      // B within one rounding of P + A: cuDNN's and cuBLAS's beta = 1 epilogues
  overwritten,  // B == A: not a parameter gradient (dx, dresidual), overwritten either way
};

struct GradOut {
  const char* name;
  int64_t size;
  Sum sum;
  DType dtype = DType::F32;
};

// The op under test writing its outputs (in GradOut order), accumulating or not.
using GradCall = std::function<void(bool accumulate, const std::vector<Tensor>& outs)>;

// How far a `rounded` output may be from P + A: `rel` times |P| + |A| per element (one rounding
// of the sum, with room for an FMA in the epilogue), or, `normalized`, times |P| + max |A| (two
// runs of a non-deterministic algorithm differ by roundings of the whole sum, whose scale is the
// output's, not the element's).
struct SumTolerance {
  double rel = 1e-6;
  bool normalized = false;
};

// Calls `call` accumulating into buffers that hold priors, then overwriting buffers that hold NaN
// (an overwrite never reads them; a NaN read or left behind breaks every rule), and checks each
// output by its rule. The accumulating call comes first: on a geometry that no earlier call used,
// it is the one that chooses cuDNN's algorithm.
void check_accumulates(const std::vector<GradOut>& outs, const GradCall& call,
                       SumTolerance tol = {}) {
  std::vector<std::vector<float>> prior;
  std::vector<Tensor> summed, fresh;
  for (size_t k = 0; k < outs.size(); ++k) {
    const Shape shape{outs[k].size};
    prior.push_back(uniform(outs[k].size, 200 + unsigned(k), -3.f, 3.f));
    summed.push_back(Tensor::from_host(prior[k], shape, Device::CUDA, outs[k].dtype));
    fresh.push_back(Tensor::from_host(std::vector<float>(size_t(outs[k].size), NAN), shape,
                                      Device::CUDA, outs[k].dtype));
  }
  call(true, summed);
  call(false, fresh);
  for (size_t k = 0; k < outs.size(); ++k) {
    const std::vector<float> b = summed[k].to_host(), a = fresh[k].to_host();
    const std::vector<float>& p = prior[k];
    float a_max = 0.f;
    for (float v : a) a_max = std::max(a_max, std::abs(v));
    int64_t bad = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      bool ok = false;
      switch (outs[k].sum) {
        case Sum::exact:
          ok = b[i] == p[i] + a[i];
          break;
        case Sum::rounded: {
          const double scale = std::abs(p[i]) + (tol.normalized ? a_max : std::abs(a[i]));
          ok = std::abs(double(b[i]) - (double(p[i]) + double(a[i]))) <= tol.rel * scale;
          break;
        }
        case Sum::overwritten:
          ok = b[i] == a[i];
          break;
      }
      bad += !ok;
    }
    CHECK_MESSAGE(bad == 0, outs[k].name << ": " << bad << " of " << a.size() << " elements");
  }
}

Tensor on_gpu(const std::vector<float>& v, DType dtype = DType::F32) {
  return Tensor::from_host(v, {int64_t(v.size())}, Device::CUDA, dtype);
}

// dw and dbias of one convolution in `T` (float or BF16). Deterministic (the calls run one
// algorithm, bitwise repeatable): a bf16 dw is the same bf16 bits twice, widened and added once,
// so exact. Otherwise cuDNN's algorithm may sum in any order: `tol` applies.
template <class T>
void check_conv_filter_accumulates(const ConvGeom& g, bool deterministic, SumTolerance tol = {}) {
  constexpr bool bf16 = std::is_same_v<T, BF16>;
  const DType t = bf16 ? DType::BF16 : DType::F32;
  const Tensor x = on_gpu(uniform(g.x_size(), 31), t), dy = on_gpu(uniform(g.y_size(), 32), t);
  const Sum dw_sum = bf16 && deterministic ? Sum::exact : Sum::rounded;
  check_accumulates(
      {{"dw", g.w_size(), dw_sum}, {"dbias", g.k, Sum::exact}},
      [&](bool accumulate, const std::vector<Tensor>& o) {
        cuda_backend().conv2d_backward_filter(g, x.data_as<T>(), dy.data_as<T>(), o[0].data(),
                                              o[1].data(), accumulate);
      },
      tol);
}

// Every batch-norm backward of the backend in `T`: the plain one (float32: cuDNN; bf16: our
// kernels), the fused kernels with and without a residual, and (float32) Backend's composed
// default over cuDNN. dx and dresidual are overwritten whatever `accumulate` says.
template <class T>
void check_batchnorm_accumulates(const BnGeom& g) {
  constexpr bool bf16 = std::is_same_v<T, BF16>;
  const DType t = bf16 ? DType::BF16 : DType::F32;
  const int64_t n = g.rows() * g.c;
  const float eps = 1.001e-5f;
  Backend& be = cuda_backend();
  const Tensor x = on_gpu(uniform(n, 41), t), y = on_gpu(uniform(n, 42), t),
               dy = on_gpu(uniform(n, 43), t), gamma = on_gpu(uniform(g.c, 44, 0.5f, 1.5f)),
               mean = on_gpu(uniform(g.c, 45, -0.2f, 0.2f)),
               invstd = on_gpu(uniform(g.c, 46, 0.5f, 1.5f));
  {
    const Sum param = bf16 ? Sum::exact : Sum::rounded;
    check_accumulates({{"plain dx", n, Sum::overwritten, t},
                       {"plain dgamma", g.c, param},
                       {"plain dbeta", g.c, param}},
                      [&](bool accumulate, const std::vector<Tensor>& o) {
                        be.batchnorm_backward(g, x.data_as<T>(), dy.data_as<T>(), gamma.data(),
                                              mean.data(), invstd.data(), eps, o[0].data_as<T>(),
                                              o[1].data(), o[2].data(), accumulate);
                      });
  }
  for (const bool composed : {false, true}) {
    if (bf16 && composed) continue;  // bf16 has no composed default
    for (const bool residual : {true, false}) {
      CAPTURE(composed);
      CAPTURE(residual);
      const Sum param = composed ? Sum::rounded : Sum::exact;
      std::vector<GradOut> outs = {{"relu dx", n, Sum::overwritten, t},
                                   {"relu dgamma", g.c, param},
                                   {"relu dbeta", g.c, param}};
      if (residual) outs.push_back({"relu dresidual", n, Sum::overwritten, t});
      check_accumulates(outs, [&](bool accumulate, const std::vector<Tensor>& o) {
        T* dres = residual ? o[3].data_as<T>() : nullptr;
        if constexpr (bf16) {
          be.batchnorm_relu_backward(g, x.data_as<T>(), y.data_as<T>(), dy.data_as<T>(),
                                     gamma.data(), mean.data(), invstd.data(), eps,
                                     o[0].data_as<T>(), dres, o[1].data(), o[2].data(),
                                     accumulate);
        } else if (composed) {
          be.Backend::batchnorm_relu_backward(g, x.data(), y.data(), dy.data(), gamma.data(),
                                              mean.data(), invstd.data(), eps, o[0].data(), dres,
                                              o[1].data(), o[2].data(), accumulate);
        } else {
          be.batchnorm_relu_backward(g, x.data(), y.data(), dy.data(), gamma.data(), mean.data(),
                                     invstd.data(), eps, o[0].data(), dres, o[1].data(),
                                     o[2].data(), accumulate);
        }
      });
    }
  }
}

// dx overwritten, dw (cuBLAS) and db (column sums) accumulated. n = 0: empty sums, nothing to
// add (and no dx).
void check_linear_accumulates(int n, int in, int out) {
  Backend& be = cuda_backend();
  if (n == 0) {
    check_accumulates({{"dw", int64_t(out) * in, Sum::exact}, {"db", out, Sum::exact}},
                      [&](bool accumulate, const std::vector<Tensor>& o) {
                        be.linear_backward(0, in, out, nullptr, nullptr, nullptr, nullptr,
                                           o[0].data(), o[1].data(), accumulate);
                      });
    return;
  }
  const Tensor x = on_gpu(uniform(int64_t(n) * in, 51)), w = on_gpu(uniform(int64_t(out) * in, 52)),
               dy = on_gpu(uniform(int64_t(n) * out, 53));
  check_accumulates({{"dx", int64_t(n) * in, Sum::overwritten},
                     {"dw", int64_t(out) * in, Sum::rounded},
                     {"db", out, Sum::exact}},
                    [&](bool accumulate, const std::vector<Tensor>& o) {
                      be.linear_backward(n, in, out, x.data(), w.data(), dy.data(), o[0].data(),
                                         o[1].data(), o[2].data(), accumulate);
                    });
}

// Deterministic mode for a scope (the backend is shared by the whole process).
struct DeterministicMode {
  DeterministicMode() { cuda_backend().set_deterministic(true); }
  ~DeterministicMode() { cuda_backend().set_deterministic(false); }
  DeterministicMode(const DeterministicMode&) = delete;
  DeterministicMode& operator=(const DeterministicMode&) = delete;
};

std::string describe(const ConvGeom& g) {
  char s[96];
  std::snprintf(s, sizeof s, "n=%d h=%d w=%d c=%d k=%d r=%d s=%d stride=%d pad=%d", g.n, g.h, g.w,
                g.c, g.k, g.r, g.s, g.stride, g.pad);
  return s;
}

}  // namespace

// Deterministic mode, FP32: both calls run the same algorithms, bitwise repeatable, so they differ
// only by what accumulating adds. Convolutions through cuDNN with a bias over 512 output rows
// (the column sums merge two chunks) and over 16 (one chunk), and single taps (cuBLAS, the other
// taps' gradients zero); batch norms on the scalar path (c = 5) and the vector one with merged
// partials; linear layers over 300 rows (two chunks), 5 and none.
TEST_CASE("cuda parameter gradients with accumulate are the prior plus the overwritten result") {
  cuda_backend().set_allow_tf32(false);
  const DeterministicMode deterministic;
  const ConvGeom convs[] = {{2, 16, 16, 8, 12, 3, 3, 1, 1},
                            {1, 8, 8, 8, 12, 3, 3, 2, 1},
                            {5, 1, 1, 24, 20, 3, 3, 1, 1}};
  for (const ConvGeom& g : convs) {
    const std::string geometry = describe(g);
    CAPTURE(geometry);
    check_conv_filter_accumulates<float>(g, true);
    check_conv_filter_accumulates<BF16>(g, true);
  }
  for (const BnGeom& g : {BnGeom{2, 3, 3, 5}, BnGeom{128, 16, 16, 16}}) {
    char shape[64];
    std::snprintf(shape, sizeof shape, "(%d, %d, %d, %d)", g.n, g.h, g.w, g.c);
    CAPTURE(shape);
    check_batchnorm_accumulates<float>(g);
    check_batchnorm_accumulates<BF16>(g);
  }
  check_linear_accumulates(300, 33, 10);
  check_linear_accumulates(5, 7, 1000);
  check_linear_accumulates(0, 7, 10);
}

// The default mode chooses a convolution's algorithms with cudnnFind*Ex, which runs every
// candidate on the caller's buffers the first time a geometry is met: a filter gradient that
// accumulates holds a prior those runs must not overwrite (cudnn_conv.cu gives them a temporary).
// Geometries no other case uses, so that the accumulating call is the one that searches, in both
// math modes (a plan each). The chosen algorithm may sum in any order, so the tolerance is 1e-3
// (float32) or 1e-2 (bf16, whose rounding may fall either way in two runs) of |prior| + the
// gradient's largest magnitude: a prior lost to the search would leave errors of that scale.
TEST_CASE("cuda conv2d filter gradient: the call that searches for algorithms keeps the prior") {
  Backend& be = cuda_backend();
  be.set_deterministic(false);  // the search runs only in the default mode
  const ConvGeom convs[] = {{3, 7, 5, 6, 10, 3, 3, 1, 1}, {2, 9, 6, 5, 7, 3, 3, 2, 1}};
  for (const bool tf32 : {false, true}) {
    be.set_allow_tf32(tf32);
    for (const ConvGeom& g : convs) {
      const std::string geometry = describe(g);
      CAPTURE(tf32);
      CAPTURE(geometry);
      check_conv_filter_accumulates<float>(g, false, {1e-3, true});
      check_conv_filter_accumulates<BF16>(g, false, {1e-2, true});
    }
  }
  be.set_allow_tf32(false);
}

// ---- concurrent work (Backend::run_concurrently): the side stream's ordering against the main
// one. The buffers are large and every value comes from a chain of kernels, so that a missing
// wait would let one stream read what the other has not finished writing, most likely visibly;
// the values are small integers, exact in float, so every check is exact ----
namespace {

// The host emulation of tests/cuda_emulation runs one stream after the other, where size buys
// nothing: small buffers there check the same ordering.
#ifdef RF_CUDA_EMULATION
constexpr int64_t kBig = int64_t(1) << 12;
#else
constexpr int64_t kBig = int64_t(1) << 24;  // 64 MiB of floats
#endif
constexpr size_t kBigBytes = size_t(kBig) * sizeof(float);

// The backend is shared by the whole process: whatever happens in a case, it ends with
// concurrency off.
struct ConcurrencyOn {
  ConcurrencyOn() { cuda_backend().set_concurrency(true); }
  ~ConcurrencyOn() {
    try {
      cuda_backend().set_concurrency(false);
    } catch (const std::exception& e) {
      FAIL_CHECK("set_concurrency(false) threw: " << e.what());
    }
  }
  ConcurrencyOn(const ConcurrencyOn&) = delete;
  ConcurrencyOn& operator=(const ConcurrencyOn&) = delete;
};

// y = passes * v over kBig floats, in 1 + passes kernels.
void chain(Backend& be, float* y, const float* ones, float v, int passes) {
  be.fill(kBig, 0.f, y);
  for (int i = 0; i < passes; ++i) be.axpy(kBig, v, ones, y);
}

// The elements of a kBig-float device buffer that differ from `want` (copy_to_host joins first).
int64_t mismatches(const float* p, float want) {
  std::vector<float> h(static_cast<size_t>(kBig));
  cuda_backend().copy_to_host(h.data(), p, kBigBytes);
  return std::count_if(h.begin(), h.end(), [want](float v) { return v != want; });
}

Tensor big() { return Tensor::empty({kBig}, Device::CUDA); }

}  // namespace

TEST_CASE("cuda concurrent work sees the work queued before it; the work after the join sees it") {
  Backend& be = cuda_backend();
  const ConcurrencyOn on;
  const Tensor ones = Tensor::full({kBig}, 1.f, Device::CUDA);
  const Tensor a = big(), b = big(), c = big(), d = big(), e = big();
  int64_t bad_b = 0, bad_d = 0, bad_e = 0;
  for (int rep = 0; rep < 30; ++rep) {
    const float v = float(rep % 7 + 1);
    chain(be, a.data(), ones.data(), v, 16);  // main: a = 16 v
    be.run_concurrently([&be, a, b] {         // side: b = 2 a, right after a's last kernel
      be.copy(b.data(), a.data(), kBigBytes);
      be.axpy(kBig, 1.f, a.data(), b.data());
    });
    be.run_concurrently([&be, c, ones, v] { chain(be, c.data(), ones.data(), v, 12); });
    chain(be, e.data(), ones.data(), v + 1.f, 4);  // main, meanwhile: unrelated work
    be.join_concurrent();
    be.copy(d.data(), c.data(), kBigBytes);  // main reads what the side lane wrote
    bad_b += mismatches(b.data(), 32.f * v);
    bad_d += mismatches(d.data(), 12.f * v);
    bad_e += mismatches(e.data(), 4.f * (v + 1.f));
  }
  CHECK(bad_b == 0);
  CHECK(bad_d == 0);
  CHECK(bad_e == 0);
}

// The memory of what held work captured is freed at the join, ordered after the work: were it
// freed earlier, the junk the main stream writes into fresh allocations meanwhile could land on
// it while the side lane still reads it.
TEST_CASE("cuda concurrent work keeps what it captured until the join") {
  Backend& be = cuda_backend();
  const ConcurrencyOn on;
  const Tensor ones = Tensor::full({kBig}, 1.f, Device::CUDA), out = big();
  int64_t bad = 0, held = 0, released = 0;
  for (int rep = 0; rep < 30; ++rep) {
    const float v = float(rep % 5 + 1);
    auto temp = std::make_shared<Storage>(be, kBigBytes);
    const std::weak_ptr<Storage> watch = temp;
    be.run_concurrently([&be, temp, ones, out, v] {
      float* t = static_cast<float*>(temp->data());
      chain(be, t, ones.data(), v, 8);  // t = 8 v
      be.copy(out.data(), t, kBigBytes);
      be.axpy(kBig, 1.f, t, out.data());  // out = 16 v
    });
    temp.reset();
    held += !watch.expired();
    for (int k = 0; k < 3; ++k) be.fill(kBig, -1.f, big().data());
    be.join_concurrent();
    released += watch.expired();
    for (int k = 0; k < 3; ++k) be.fill(kBig, -1.f, big().data());  // may reuse it now
    bad += mismatches(out.data(), 16.f * v);
  }
  CHECK(held == 30);
  CHECK(released == 30);
  CHECK(bad == 0);
}

TEST_CASE("cuda run_concurrently runs work at once when off or nested; uploads refused there") {
  Backend& be = cuda_backend();
  REQUIRE(!be.concurrency());
  // Off: the work is not held.
  auto token = std::make_shared<int>(0);
  const std::weak_ptr<int> watch = token;
  bool ran = false;
  be.run_concurrently([&ran, token] { ran = true; });
  token.reset();
  CHECK(ran);
  CHECK(watch.expired());
  be.join_concurrent();  // nothing to join

  const ConcurrencyOn on;
  CHECK(be.concurrency());
  const Tensor ones = Tensor::full({kBig}, 1.f, Device::CUDA), x = big();
  bool nested_held = true;
  be.run_concurrently([&be, &nested_held, ones, x] {
    chain(be, x.data(), ones.data(), 1.f, 8);  // x = 8
    auto inner = std::make_shared<int>(0);
    const std::weak_ptr<int> inner_watch = inner;
    be.run_concurrently([&be, x, inner] { be.scale(kBig, 3.f, x.data(), x.data()); });  // 24
    inner.reset();
    nested_held = !inner_watch.expired();
    be.axpy(kBig, 1.f, ones.data(), x.data());  // after the nested work, in order: 25
  });
  be.join_concurrent();
  CHECK(!nested_held);
  CHECK(mismatches(x.data(), 25.f) == 0);

  // Turning concurrency off joins what is held.
  auto token2 = std::make_shared<int>(0);
  const std::weak_ptr<int> watch2 = token2;
  be.run_concurrently([&be, x, ones, token2] { be.axpy(kBig, 1.f, ones.data(), x.data()); });
  token2.reset();
  CHECK(!watch2.expired());
  be.set_concurrency(false);
  CHECK(watch2.expired());
  CHECK(mismatches(x.data(), 26.f) == 0);
  be.set_concurrency(true);

  // An upload from concurrent work would be ordered on the wrong stream: refused, and the
  // backend is back on its main stream afterwards.
  std::vector<float> host(64, 7.f);
  const Tensor small = Tensor::empty({64}, Device::CUDA);
  std::string error;
  try {
    be.run_concurrently(
        [&be, &host, small] { be.copy_from_host(small.data(), host.data(), 64 * sizeof(float)); });
  } catch (const Error& e) {
    error = e.what();
  }
  CHECK_MESSAGE(error.find("copy_from_host") != std::string::npos, error);
  be.join_concurrent();
  be.copy_from_host(small.data(), host.data(), 64 * sizeof(float));
  CHECK(small.to_host() == host);
}

namespace {

// One recordable step with two branches, of src (one float, uploaded before each launch):
// main: a = 256 src; side: b = 2 a, through a temporary allocated on the main stream, held by the
// work and freed at the join, and one the work allocates and frees itself; main meanwhile: c = 8;
// after the join, d = b + c = 512 src + 8. `join`: the work joins itself (as Variable::backward
// does), else the recording must.
void two_branches(const Tensor& src, const Tensor& ones, const Tensor& a, const Tensor& b,
                  const Tensor& c, const Tensor& d, bool join) {
  Backend& be = cuda_backend();
  be.scale_by(kBig, src.data(), ones.data(), a.data());
  for (int i = 0; i < 8; ++i) be.add(kBig, a.data(), a.data(), a.data());
  {
    const Tensor held = big();
    be.run_concurrently([&be, a, b, d, held, join] {
      const Tensor own = big();
      be.add(kBig, a.data(), a.data(), own.data());
      be.copy(held.data(), own.data(), kBigBytes);
      be.copy(b.data(), held.data(), kBigBytes);
      if (!join) be.copy(d.data(), b.data(), kBigBytes);  // no join: d = b, on the side lane
    });
  }
  chain(be, c.data(), ones.data(), 1.f, 8);
  if (join) {
    be.join_concurrent();
    be.add(kBig, b.data(), c.data(), d.data());
  }
}

}  // namespace

TEST_CASE("cuda concurrent work inside a recorded step graph replays with both branches joined") {
  Backend& be = cuda_backend();
  const ConcurrencyOn on;
  const Tensor src = Tensor::empty({1}, Device::CUDA);
  const Tensor ones = Tensor::full({kBig}, 1.f, Device::CUDA);
  const Tensor a = big(), b = big(), c = big(), d = big();
  for (const bool join : {true, false}) {
    CAPTURE(join);
    const auto plus = [join](float v) { return join ? 512.f * v + 8.f : 512.f * v; };
    const auto upload = [&](float v) { be.copy_from_host(src.data(), &v, sizeof v); };
    upload(1.f);
    two_branches(src, ones, a, b, c, d, join);  // once eagerly before recording
    CHECK(mismatches(d.data(), plus(1.f)) == 0);
    const std::unique_ptr<StepGraph> graph =
        be.record([&] { two_branches(src, ones, a, b, c, d, join); });
    int64_t bad = 0;
    for (int rep = 0; rep < 24; ++rep) {
      const float v = float(rep % 9 + 2);
      upload(v);
      graph->launch();
      bad += mismatches(d.data(), plus(v));
    }
    CHECK(bad == 0);
  }

  // Recorded work that throws after passing concurrent work: the recording fails with that
  // error and leaves the backend usable, eagerly and for the next recording.
  std::string error;
  try {
    be.record([&] {
      be.run_concurrently([&be, b] { be.fill(kBig, 1.f, b.data()); });
      throw Error("deliberate failure while recording");
    });
  } catch (const Error& e) {
    error = e.what();
  }
  CHECK_MESSAGE(error == "deliberate failure while recording", error);
  be.copy_from_host(src.data(), std::vector<float>{3.f}.data(), sizeof(float));
  two_branches(src, ones, a, b, c, d, true);
  CHECK(mismatches(d.data(), 512.f * 3.f + 8.f) == 0);
  const std::unique_ptr<StepGraph> graph =
      be.record([&] { two_branches(src, ones, a, b, c, d, true); });
  be.copy_from_host(src.data(), std::vector<float>{5.f}.data(), sizeof(float));
  graph->launch();
  CHECK(mismatches(d.data(), 512.f * 5.f + 8.f) == 0);
}

// A bf16 filter gradient goes through a temporary that the op allocates and frees itself: from the
// side lane of run_concurrently, eagerly and inside a recorded step graph, every call adds the
// same gradient again. Inputs in {-1, 0, 1} and small integer priors: every sum is an integer of
// at most 72 terms, exact in bf16 and float, and so is every check.
TEST_CASE("cuda bf16 conv2d filter gradient accumulates from the side lane, eagerly and recorded") {
  Backend& be = cuda_backend();
  const ConcurrencyOn on;
  const ConvGeom g{2, 6, 6, 4, 8, 3, 3, 1, 1};  // 2 * 6 * 6 = 72 output pixels
  const auto ints = [](int64_t n, int spread) {
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(int(i * 7919 % size_t(spread)) - spread / 2);
    return v;
  };
  const Tensor x = on_gpu(ints(g.x_size(), 3), DType::BF16);
  const Tensor dy = on_gpu(ints(g.y_size(), 3), DType::BF16);
  const std::vector<float> prior_w = ints(g.w_size(), 9), prior_b = ints(g.k, 9);
  const Tensor dw = on_gpu(prior_w), db = on_gpu(prior_b);
  const Tensor grad_w = Tensor::empty({g.w_size()}, Device::CUDA);
  const Tensor grad_b = Tensor::empty({g.k}, Device::CUDA);
  be.conv2d_backward_filter(g, x.data_bf16(), dy.data_bf16(), grad_w.data(), grad_b.data(), false);
  const std::vector<float> want_w = grad_w.to_host(), want_b = grad_b.to_host();
  CHECK(std::any_of(want_w.begin(), want_w.end(), [](float v) { return v != 0.f; }));
  // The elements of `got` other than prior + times * grad.
  const auto off = [](const Tensor& got, const std::vector<float>& prior,
                      const std::vector<float>& grad, int times) {
    const std::vector<float> h = got.to_host();
    int64_t bad = 0;
    for (size_t i = 0; i < h.size(); ++i) bad += h[i] != prior[i] + float(times) * grad[i];
    return bad;
  };
  const auto accumulate = [&be, g, x, dy, dw, db] {
    be.run_concurrently([&be, g, x, dy, dw, db] {
      be.conv2d_backward_filter(g, x.data_bf16(), dy.data_bf16(), dw.data(), db.data(), true);
    });
  };
  accumulate();
  be.join_concurrent();
  CHECK(off(dw, prior_w, want_w, 1) == 0);
  CHECK(off(db, prior_b, want_b, 1) == 0);
  const std::unique_ptr<StepGraph> graph = be.record(accumulate);
  for (int times = 2; times <= 4; ++times) {
    graph->launch();
    CHECK(off(dw, prior_w, want_w, times) == 0);
    CHECK(off(db, prior_b, want_b, times) == 0);
  }
  CHECK(!graph->stale());
}

// A recorded graph reports the kernels one launch runs (bench_train prints them): three
// elementwise ops, on the main stream and with one of them on the side lane (its fork and join
// are event nodes, not kernels).
TEST_CASE("cuda recorded step graphs count their kernels") {
  Backend& be = cuda_backend();
  const int64_t n = 1000;
  const Tensor a = Tensor::empty({n}, Device::CUDA), b = Tensor::empty({n}, Device::CUDA),
               c = Tensor::empty({n}, Device::CUDA);
  const auto three = [&] {
    be.fill(n, 1.f, a.data());
    be.run_concurrently([&be, n, b] { be.fill(n, 2.f, b.data()); });
    be.join_concurrent();
    be.add(n, a.data(), b.data(), c.data());
  };
  CHECK(be.record(three)->kernels() == 3);
  const ConcurrencyOn on;
  CHECK(be.record(three)->kernels() == 3);
  const std::unique_ptr<StepGraph> graph = be.record(three);
  graph->launch();
  CHECK(c.to_host() == std::vector<float>(size_t(n), 3.f));
}
