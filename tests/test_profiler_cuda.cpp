// The CUDA backend's device timer (engine/cuda/cuda_device_timer.h) behind the profiler: ResNet-20
// training steps on the GPU give device seconds to every op that ran and to no other, the
// convolutions outweigh every other kind of op, and the device total fits in the steps'
// wall-clock (one stream: the timed intervals are disjoint). Runs only where a GPU is
// usable (see gpu_test_main.cpp).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/profiler.h"
#include "models/factory.h"

using namespace rf;
using profiler::Op;

namespace {

// Turns the profiler off again even when a check throws.
struct Enabled {
  Enabled() {
    profiler::reset();
    profiler::set_enabled(true);
  }
  ~Enabled() { profiler::set_enabled(false); }
};

double device(const profiler::Totals& t, Op op) { return t[size_t(op)].device_seconds; }

}  // namespace

TEST_CASE("cuda device timer: per-op device time of ResNet-20 training steps") {
  // FP32 convolutions at batch 256 keep the GPU, not the host's launches, the bottleneck: an
  // op's interval also holds any host time between its launches, which would blur the ranking.
  const int n = 256, steps = 3;
  cuda_backend().set_allow_tf32(false);
  auto model = models::make_model("resnet20", {.classes = 10, .seed = 3, .device = Device::CUDA});
  Adam adam{model->parameters(), AdamParams{}};
  std::vector<float> x(size_t(n) * 32 * 32 * 3), t(size_t(n) * 10, 0.f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7919) % 255) / 255.f - 0.5f;
  for (int i = 0; i < n; ++i) t[size_t(i) * 10 + size_t(i % 10)] = 1.f;
  const Variable images(Tensor::from_host(x, {n, 32, 32, 3}, Device::CUDA));
  const Tensor targets = Tensor::from_host(t, {n, 10}, Device::CUDA);
  auto step = [&] {
    model->parameters().zero_grad();
    Variable loss = softmax_cross_entropy(model->forward(images), targets);
    loss.backward();
    adam.step();
  };
  step();  // outside the profile: convolution algorithm searches, first allocations
  cuda_backend().synchronize();

  profiler::Totals totals;
  double wall = 0;
  {
    const Enabled on;
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) step();
    cuda_backend().synchronize();
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    totals = profiler::totals();
  }

  double sum = 0;
  for (int i = 0; i < profiler::kOpCount; ++i) {
    const profiler::OpStats& o = totals[size_t(i)];
    CAPTURE(profiler::op_name(Op(i)));
    if (o.calls > 0)
      CHECK(o.device_seconds > 0);
    else
      CHECK(o.device_seconds == 0);
    std::printf("%-20s %6lld calls %10.3f ms device %10.3f ms host\n", profiler::op_name(Op(i)),
                static_cast<long long>(o.calls), 1e3 * o.device_seconds, 1e3 * o.seconds);
    sum += o.device_seconds;
  }
  std::printf("device total %.3f ms of %.3f ms wall-clock\n", 1e3 * sum, 1e3 * wall);
  CHECK(sum <= 1.02 * wall);
  CHECK(totals[size_t(Op::conv2d_forward)].calls == steps * 21);  // 19 convs + 2 projections
  const double conv = device(totals, Op::conv2d_forward) +
                      device(totals, Op::conv2d_backward_data) +
                      device(totals, Op::conv2d_backward_filter);
  const double bn = device(totals, Op::batchnorm_forward) + device(totals, Op::batchnorm_backward);
  // How the time divides among ops is the GPU's: the host emulation's shares say nothing of it.
#ifndef RF_CUDA_EMULATION
  CHECK(conv > bn);
  for (Op other : {Op::batchnorm_forward, Op::batchnorm_backward, Op::pool_forward,
                   Op::pool_backward, Op::linear_forward, Op::linear_backward, Op::softmax_xent,
                   Op::grad_accumulate, Op::zero_grad, Op::optimizer_update}) {
    CAPTURE(profiler::op_name(other));
    CHECK(conv > device(totals, other));
  }
#else
  CHECK(conv > 0);
  CHECK(bn > 0);
#endif
}
