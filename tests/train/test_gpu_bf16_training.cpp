// --precision bf16 on the GPU: the ResNet-8 run of test_bf16_training against float32 on the GPU
// (the same bounds as on the CPU), and one step against the CPU's bf16 (the same rounding of every
// stored activation, a different summation order). Runs only where a GPU is usable.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bf16_training.h"

using namespace rf;

namespace {

// max |a - b| over the scale of b.
double relative_to_scale(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    err = std::max(err, std::abs(double(a[i]) - b[i]));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return err / scale;
}

}  // namespace

TEST_CASE("on the GPU, bf16 activations train as float32 ones do, within bf16 rounding") {
  cuda_backend().set_allow_tf32(false);
  const test::Bf16Run fp32 = test::train_resnet8(DType::F32, Device::CUDA, 50);
  const test::Bf16Run bf16 = test::train_resnet8(DType::BF16, Device::CUDA, 50);
  double worst = 0;
  for (size_t i = 0; i < fp32.losses.size(); ++i)
    worst = std::max(worst, std::abs(double(bf16.losses[i]) - fp32.losses[i]) / fp32.losses[i]);
  const double logits = relative_to_scale(bf16.eval_logits, fp32.eval_logits);
  std::printf("GPU bf16 vs float32, 50 steps: worst relative loss difference %.3g, eval logits %.3g of their "
              "scale; loss %.4f -> %.4f\n", worst, logits, bf16.losses.front(), bf16.losses.back());
  CHECK(bf16.losses.front() != fp32.losses.front());
  CHECK(worst < 0.03);
  CHECK(logits < 0.03);
  CHECK(bf16.losses.back() < 0.7 * bf16.losses.front());
}

TEST_CASE("one bf16 step on the GPU is the CPU's bf16 step, within a bf16 rounding or two") {
  cuda_backend().set_allow_tf32(false);
  const test::Bf16Run gpu = test::train_resnet8(DType::BF16, Device::CUDA, 1);
  const test::Bf16Run cpu = test::train_resnet8(DType::BF16, Device::CPU, 1);
  const double loss = std::abs(double(gpu.losses[0]) - cpu.losses[0]) / cpu.losses[0];
  const double logits = relative_to_scale(gpu.eval_logits, cpu.eval_logits);
  std::printf("bf16 GPU vs CPU, one step: loss %.3g relative, eval logits %.3g of their scale\n", loss, logits);
  // A stored value may differ by one bf16 unit (2^-8 relative) where the summation orders round
  // differently; through a few layers that stays within about 1%.
  CHECK(loss < 1e-2);
  CHECK(logits < 2e-2);
}
