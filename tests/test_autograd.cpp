// Tensor storage semantics and the autograd machinery itself: accumulation for Variables used
// twice, no-grad scopes, graph release, parameter packing.
#include <doctest/doctest.h>

#include "engine/check.h"
#include "engine/ops.h"
#include "engine/parameters.h"

using namespace rf;

TEST_CASE("tensors: views share storage, reshape checks sizes, copies are deep") {
  Tensor t = Tensor::from_host({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor v = t.view(2, {2, 2});
  CHECK(v.shares_storage(t));
  CHECK(v.to_host() == std::vector<float>{3, 4, 5, 6});
  v.fill_(9.f);
  CHECK(t.to_host() == std::vector<float>{1, 2, 9, 9, 9, 9});
  Tensor c = t.clone();
  c.fill_(0.f);
  CHECK(t.to_host()[0] == 1.f);
  CHECK(t.reshape({3, 2}).dim(-1) == 2);
  CHECK_THROWS_AS(t.reshape({4, 2}), Error);
  CHECK_THROWS_AS(t.view(5, {2}), Error);
  CHECK_THROWS_AS(Tensor::from_host({1, 2}, {3}), Error);
  CHECK(Tensor::zeros({0, 3}).numel() == 0);
}

TEST_CASE("a Variable used twice receives the sum of both gradients") {
  Variable x(Tensor::from_host({1, -2, 3}, {1, 3}), true);
  Variable y = add(relu(x), scale(x, 2.f));  // dy/dx = relu'(x) + 2
  y.backward();
  CHECK(x.grad().to_host() == std::vector<float>{3, 2, 3});
}

TEST_CASE("the residual pattern: gradient through add reaches both branches without aliasing") {
  Variable x(Tensor::from_host({0.5f, -1.f}, {1, 2}), true);
  Variable a = scale(x, 3.f);
  Variable y = add(a, a);  // the same tensor is handed to both inputs of add
  Variable z = add(y, x);
  z.backward();
  CHECK(x.grad().to_host() == std::vector<float>{7, 7});
}

TEST_CASE("no-grad scope records nothing and restores the previous mode") {
  Variable x(Tensor::from_host({1, 2}, {1, 2}), true);
  {
    NoGrad guard;
    CHECK_FALSE(grad_enabled());
    Variable y = relu(x);
    CHECK_FALSE(y.requires_grad());
    CHECK_THROWS_AS(y.backward(), Error);
  }
  CHECK(grad_enabled());
  CHECK(relu(x).requires_grad());
}

TEST_CASE("backward releases the graph; leaves keep their gradients") {
  Variable x(Tensor::from_host({1, 2}, {1, 2}), true);
  Variable y = relu(x);
  y.backward();
  CHECK(x.has_grad());
  CHECK_FALSE(y.has_grad());
  // A second backward through the released graph only seeds y; x keeps its first gradient.
  y.backward();
  CHECK(x.grad().to_host() == std::vector<float>{1, 1});
}

TEST_CASE("parameters pack into flat buffers; gradients accumulate into them") {
  ParameterSet ps;
  Variable w = ps.add("fc.weight", Tensor::from_host({1, 2, 3}, {1, 3}));
  Variable b = ps.add("fc.bias", Tensor::from_host({4}, {1}));
  CHECK_THROWS_AS(ps.add("fc.weight", Tensor::zeros({1})), Error);
  ps.pack(Device::CPU);
  CHECK(ps.numel() == 4);
  CHECK(ps.values().to_host() == std::vector<float>{1, 2, 3, 4});
  CHECK(w.value().shares_storage(ps.values()));
  CHECK(b.value().shares_storage(ps.values()));

  Variable x(Tensor::from_host({1, 2, 3, 4, 5, 6}, {2, 3}));
  linear(x, w, b).backward();  // seed of ones: dW = column sums of x, db = rows
  CHECK(ps.grads().to_host() == std::vector<float>{5, 7, 9, 2});
  linear(x, w, b).backward();  // a second pass accumulates
  CHECK(ps.grads().to_host() == std::vector<float>{10, 14, 18, 4});
  ps.zero_grad();
  CHECK(ps.grads().to_host() == std::vector<float>{0, 0, 0, 0});
}
