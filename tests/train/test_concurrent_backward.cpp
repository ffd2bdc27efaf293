// Parameter gradients as concurrent work (Backend::run_concurrently). With concurrency on, the CPU
// backend holds that work and runs it at the join, the latest moment the contract allows: a
// gradient read before it is complete, or an input freed or summed into before the work ran,
// changes the result here (and under AddressSanitizer, faults), as a race would on the GPU.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "bf16_training.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/variable.h"

using namespace rf;

namespace {

// Turns the CPU backend's concurrency on for a scope.
struct Concurrency {
  explicit Concurrency(bool on) { cpu_backend().set_concurrency(on); }
  ~Concurrency() { cpu_backend().set_concurrency(false); }
};

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

struct Grads {
  std::vector<float> w, b, v;
};

// A graph in which the convolution's incoming gradient is also the first gradient of another
// node that receives a second one later in the pass (x feeds both the sum and, through y, the
// convolution): summed in place, it would change under the held filter-gradient work.
//   x = 1.5 v;  y = relu(x);  c = conv3x3(y, w, b);  s = c + x;  backward(s, seed)
Grads hazard_graph_grads(DType activations) {
  const Shape shape{2, 5, 4, 6};
  Variable v(Tensor::from_host(random_values(2 * 5 * 4 * 6, 1), shape), true);
  Variable w(Tensor::from_host(random_values(6 * 3 * 3 * 6, 2), {6, 3, 3, 6}), true);
  Variable b(Tensor::from_host(random_values(6, 3), {6}), true);
  Variable x = cast(scale(v, 1.5f), activations);
  Variable y = relu(x);
  Variable s = add(conv2d(y, w, b, 1, 1), x);
  const Tensor seed = Tensor::from_host(random_values(2 * 5 * 4 * 6, 4), shape);
  s.backward(activations == DType::F32 ? seed : cast(Variable(seed), activations).value());
  return {w.grad().to_host(), b.grad().to_host(), v.grad().to_host()};
}

void check_same(const test::Bf16Run& a, const test::Bf16Run& b) {
  REQUIRE(a.losses.size() == b.losses.size());
  for (size_t i = 0; i < a.losses.size(); ++i) CHECK(a.losses[i] == b.losses[i]);
  CHECK(a.eval_logits == b.eval_logits);
}

}  // namespace

TEST_CASE("the CPU backend holds concurrent work until the join, in order") {
  Backend& be = cpu_backend();
  std::vector<int> ran;
  SUBCASE("off: at once") {
    be.run_concurrently([&] { ran.push_back(1); });
    CHECK(ran == std::vector<int>{1});
  }
  SUBCASE("on: held, then run in order; work passed on from held work runs at once") {
    Concurrency on(true);
    be.run_concurrently([&] {
      ran.push_back(1);
      be.run_concurrently([&] { ran.push_back(2); });
      ran.push_back(3);
    });
    be.run_concurrently([&] { ran.push_back(4); });
    CHECK(ran.empty());
    be.join_concurrent();
    CHECK(ran == std::vector<int>{1, 2, 3, 4});
    be.join_concurrent();  // nothing held
    CHECK(ran.size() == 4);
  }
  SUBCASE("on: synchronize, a read and turning it off join") {
    Concurrency on(true);
    be.run_concurrently([&] { ran.push_back(1); });
    be.synchronize();
    CHECK(ran.size() == 1);
    const Tensor t = Tensor::full({3}, 2.f);
    be.run_concurrently([&] { ran.push_back(2); });
    CHECK(t.to_host() == std::vector<float>{2.f, 2.f, 2.f});
    CHECK(ran.size() == 2);
    be.run_concurrently([&] { ran.push_back(3); });
    be.set_concurrency(false);
    CHECK(ran.size() == 3);
  }
}

TEST_CASE("gradients are the same bits when parameter gradients run at the join") {
  for (DType t : {DType::F32, DType::BF16}) {
    CAPTURE(dtype_name(t));
    const Grads serial = hazard_graph_grads(t);
    Grads held;
    {
      Concurrency on(true);
      held = hazard_graph_grads(t);
    }
    CHECK(held.w == serial.w);
    CHECK(held.b == serial.b);
    CHECK(held.v == serial.v);
  }
}

TEST_CASE("a leaf's gradient is summed as held work, complete when backward returns") {
  Concurrency on(true);
  Variable a(Tensor::from_host({1, 2, 3}, {3}), true);
  Variable s = add(scale(a, 2.f), a);  // a gets two gradients
  s.backward(Tensor::from_host({1, 10, 100}, {3}));
  CHECK(a.grad().to_host() == std::vector<float>{3, 30, 300});
}

TEST_CASE("ResNet-8 trains to the same bits with parameter gradients held to the join") {
  for (DType t : {DType::F32, DType::BF16}) {
    CAPTURE(dtype_name(t));
    const test::Bf16Run serial = test::train_model("resnet8", t, Device::CPU, 8);
    Concurrency on(true);
    check_same(test::train_model("resnet8", t, Device::CPU, 8), serial);
  }
}

TEST_CASE("the blog ResNet50 (convolution biases) trains to the same bits with them held") {
  const test::Bf16Run serial = test::train_model("resnet50", DType::F32, Device::CPU, 2);
  Concurrency on(true);
  check_same(test::train_model("resnet50", DType::F32, Device::CPU, 2), serial);
}
