// The CUDA backend against the CPU backend: every op of the shared op table (outputs, input
// gradients, side outputs) with a per-op tolerance, in FP32 (TF32 off), plus the fused optimizer
// updates and memory round trips. The kernels under test: kernels/cuda/elementwise.cu,
// softmax.cu, softmax_xent.cu, pooling.cu, linear_bias.cu, optimizers.cu, and the cuDNN and cuBLAS
// paths in engine/cuda. Runs only where a GPU is usable (see gpu_test_main.cpp).
#include <doctest/doctest.h>

#include <cstdio>

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

TEST_CASE("cuda backend matches the cpu backend for every op") {
  cuda_backend().set_allow_tf32(false);
  std::printf("%-70s %12s %12s %10s\n", "op (cuda vs cpu)", "forward", "gradients", "tolerance");
  for (const OpCase& c : all_op_cases()) {
    CAPTURE(case_name(c));
    const RunOut want = run_case(c, Device::CPU);
    const RunOut got = run_case(c, Device::CUDA);
    const double fwd = normalized_error(got.y, want.y);
    double bwd = 0;
    REQUIRE(got.grads.size() == want.grads.size());
    for (size_t i = 0; i < got.grads.size(); ++i)
      bwd = std::max(bwd, normalized_error(got.grads[i], want.grads[i]));
    for (const auto& [name, v] : want.extras)
      CHECK_MESSAGE(normalized_error(got.extras.at(name), v) <= c.gpu_tol + 1e-7, name);
    std::printf("%-70s %12.2e %12.2e %10.0e\n", case_name(c).c_str(), fwd, bwd, c.gpu_tol);
    CHECK(fwd <= c.gpu_tol + 1e-7);
    CHECK(bwd <= c.gpu_tol + 1e-7);
  }
}

TEST_CASE("cuda sgd update (optimizers.cu) matches the reference") {
  check_sgd_variants(Device::CUDA);
}

TEST_CASE("cuda adam update (optimizers.cu) matches the reference") {
  check_adam_variants(Device::CUDA);
}
