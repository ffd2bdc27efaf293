// The per-op profiler (engine/profiler.h): off, a training step records nothing; on, it records
// every backend call of the ops, the gradient accumulation, zero_grad and the optimizer, with
// call counts that match the network's layers (ResNet-8 here), and a registered DeviceTimer
// sees the same calls.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/profiler.h"
#include "models/factory.h"

using namespace rf;
using profiler::Op;

namespace {

// One training step of a ResNet-8 on a tiny batch: zero_grad, forward, loss, backward, Adam.
struct TinyStep {
  std::unique_ptr<models::Model> model = models::make_model("resnet8", {.classes = 10, .seed = 3});
  Adam adam{model->parameters(), AdamParams{}};
  Variable images;
  Tensor targets;

  TinyStep() {
    const int n = 4;
    std::vector<float> x(size_t(n) * 8 * 8 * 3), t(size_t(n) * 10, 0.f);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7919) % 255) / 255.f - 0.5f;
    for (int i = 0; i < n; ++i) t[size_t(i) * 10 + size_t(i % 10)] = 1.f;
    images = Variable(Tensor::from_host(x, {n, 8, 8, 3}));
    targets = Tensor::from_host(t, {n, 10});
  }
  void run() {
    model->parameters().zero_grad();
    Variable loss = softmax_cross_entropy(model->forward(images), targets);
    loss.backward();
    adam.step();
  }
};

int64_t calls(const profiler::Totals& t, Op op) { return t[size_t(op)].calls; }

// Turns the profiler off again even when a check throws.
struct Enabled {
  Enabled() {
    profiler::reset();
    profiler::set_enabled(true);
  }
  ~Enabled() { profiler::set_enabled(false); }
};

}  // namespace

TEST_CASE("disabled, the profiler records nothing") {
  REQUIRE_FALSE(profiler::enabled());
  profiler::reset();
  TinyStep s;
  s.run();
  for (const profiler::OpStats& o : profiler::totals()) {
    CHECK(o.calls == 0);
    CHECK(o.seconds == 0);
  }
}

TEST_CASE("enabled, one ResNet-8 training step records each layer's ops once") {
  TinyStep s;
  s.run();  // first step outside the profile, as bench_train does
  int convs = 0;
  for (const auto& [name, v] : s.model->parameters().named()) convs += v.shape().size() == 4;
  const int params = int(s.model->parameters().named().size());
  // ResNet-8: stem conv + 3 basic blocks of 2 convs + 2 projection shortcuts (stages 2, 3).
  REQUIRE(convs == 9);
  REQUIRE(params == 9 + 2 * 9 + 2);  // conv weights, BN gamma/beta, fc weight/bias

  profiler::Totals t;
  {
    const Enabled on;
    s.run();
    t = profiler::totals();
  }
  CHECK(calls(t, Op::conv2d_forward) == convs);
  CHECK(calls(t, Op::conv2d_backward_filter) == convs);
  // The stem's input (the images) needs no gradient: no backward-data for it.
  CHECK(calls(t, Op::conv2d_backward_data) == convs - 1);
  CHECK(calls(t, Op::batchnorm_forward) == 9);  // one per conv
  CHECK(calls(t, Op::batchnorm_backward) == 9);
  // Every ReLU (stem + two per block) and residual add is fused into its batch norm.
  CHECK(calls(t, Op::relu_forward) == 0);
  CHECK(calls(t, Op::relu_backward) == 0);
  CHECK(calls(t, Op::add) == 0);
  CHECK(calls(t, Op::pool_forward) == 1);           // global average pool
  CHECK(calls(t, Op::pool_backward) == 1);
  CHECK(calls(t, Op::linear_forward) == 1);
  CHECK(calls(t, Op::linear_backward) == 1);
  CHECK(calls(t, Op::softmax_xent) == 2);  // fused forward + its backward scaling
  CHECK(calls(t, Op::softmax_forward) == 0);
  CHECK(calls(t, Op::scale) == 0);
  // Parameters' gradients are added into the flat buffer by the ops that make them; what is
  // summed is each block's input's, which feeds two branches (conv1 and the shortcut or identity).
  CHECK(calls(t, Op::grad_accumulate) == 3);
  CHECK(calls(t, Op::zero_grad) == 1);
  CHECK(calls(t, Op::optimizer_update) == 1);
  CHECK(t[size_t(Op::conv2d_forward)].seconds > 0);
  for (const profiler::OpStats& o : t) {
    CHECK(o.seconds >= 0);
    CHECK(o.device_seconds == 0);  // no DeviceTimer registered
    if (o.calls == 0) CHECK(o.seconds == 0);
  }

  SUBCASE("a second step doubles the counts; reset() zeroes them") {
    const Enabled on;  // resets
    s.run();
    s.run();
    const profiler::Totals t2 = profiler::totals();
    for (int i = 0; i < profiler::kOpCount; ++i)
      CHECK(t2[size_t(i)].calls == 2 * t[size_t(i)].calls);
    profiler::reset();
    for (const profiler::OpStats& o : profiler::totals()) CHECK(o.calls == 0);
  }
}

TEST_CASE("inference under NoGrad records forward ops only") {
  TinyStep s;
  s.model->set_training(false);
  const Enabled on;
  {
    const NoGrad no_grad;
    (void)s.model->forward(s.images);
  }
  const profiler::Totals t = profiler::totals();
  CHECK(calls(t, Op::conv2d_forward) == 9);
  CHECK(calls(t, Op::batchnorm_forward) == 9);
  CHECK(calls(t, Op::linear_forward) == 1);
  for (Op op : {Op::conv2d_backward_data, Op::conv2d_backward_filter, Op::batchnorm_backward,
                Op::relu_backward, Op::linear_backward, Op::grad_accumulate,
                Op::optimizer_update})
    CHECK(calls(t, op) == 0);
}

TEST_CASE("a registered DeviceTimer sees every timed call of its device") {
  struct CountingTimer final : profiler::DeviceTimer {
    std::vector<int> begins = std::vector<int>(profiler::kOpCount, 0);
    std::vector<int> ends = std::vector<int>(profiler::kOpCount, 0);
    void begin(Op op) override { ++begins[size_t(op)]; }
    void end(Op op) override { ++ends[size_t(op)]; }
    void add_to(profiler::Totals& t) override {
      for (int i = 0; i < profiler::kOpCount; ++i) t[size_t(i)].device_seconds += ends[size_t(i)];
    }
    void reset() override {
      std::fill(begins.begin(), begins.end(), 0);
      std::fill(ends.begin(), ends.end(), 0);
    }
  } timer;
  TinyStep s;
  profiler::set_device_timer(Device::CPU, &timer);
  profiler::Totals t;
  {
    const Enabled on;
    s.run();
    t = profiler::totals();
  }
  profiler::set_device_timer(Device::CPU, nullptr);
  for (int i = 0; i < profiler::kOpCount; ++i) {
    CHECK(timer.begins[size_t(i)] == t[size_t(i)].calls);
    CHECK(timer.ends[size_t(i)] == t[size_t(i)].calls);
    CHECK(t[size_t(i)].device_seconds == double(t[size_t(i)].calls));
  }
  CHECK(calls(t, Op::conv2d_forward) == 9);
}
