// The CUDA backend against the CPU backend: every op of the shared op table (outputs, input
// gradients, side outputs) with a per-op tolerance, in FP32 (TF32 off) and with TF32 allowed, and
// in deterministic mode; plus the fused optimizer updates and memory round trips. The kernels
// under test: kernels/cuda/elementwise.cu, softmax.cu, softmax_xent.cu, pooling.cu,
// linear_bias.cu, optimizers.cu, metrics.cu, and the cuDNN and cuBLAS paths in engine/cuda. Runs only where
// a GPU is usable (see gpu_test_main.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <cstdio>

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
// (what real training runs) with the tolerance of gpu_tolerance.
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

TEST_CASE("cuda sgd update (optimizers.cu) matches the reference") {
  check_sgd_variants(Device::CUDA);
}

TEST_CASE("cuda adam update (optimizers.cu) matches the reference") {
  check_adam_variants(Device::CUDA);
}
