// The CUDA backend against the CPU backend: every op of the shared op table (outputs, input
// gradients, side outputs; float32 and bf16 activations) with a per-op tolerance, in FP32 (TF32
// off) and with TF32 allowed, and in deterministic mode; plus the fused optimizer updates and
// memory round trips. The kernels under test: kernels/cuda/elementwise.cu, softmax.cu,
// softmax_xent.cu, pooling.cu, linear_bias.cu, optimizers.cu, metrics.cu, batchnorm_relu.cu (also
// against the composed cuDNN path), and the cuDNN and cuBLAS paths in engine/cuda; the staged
// uploads. Runs only where a GPU is usable (see gpu_test_main.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <cstdio>
#include <utility>

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
                                        dgamma.data(), dbeta.data());
    be.Backend::batchnorm_relu_forward_eval(g, x.data(), res, gamma.data(), beta.data(),
                                            rm.data(), rv.data(), eps, eval.data());
  } else {
    be.batchnorm_relu_forward_train(g, x.data(), res, gamma.data(), beta.data(), eps, momentum,
                                    rm.data(), rv.data(), y.data(), sm.data(), si.data());
    be.batchnorm_relu_backward(g, x.data(), mask_y.data(), dy.data(), gamma.data(), sm.data(),
                               si.data(), eps, dx.data(), dres_p, dgamma.data(), dbeta.data());
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
