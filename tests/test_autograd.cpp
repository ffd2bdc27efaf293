// Tensor storage semantics and the autograd machinery itself: accumulation for Variables used
// twice, no-grad scopes, graph release, parameter packing.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/backend.h"
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

// Ops add a parameter's gradient straight into its bound buffer (Variable::grad_buffer) rather
// than handing a new tensor to add_grad: the same bits, in float32 and bf16, with a filter used
// twice (its second gradient summed into the first) and with concurrent work held to the join.
TEST_CASE("gradients added into bound buffers equal those of unbound parameters, bitwise") {
  const auto values = [](int64_t n, float phase) {
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37f * float(i) + phase);
    return v;
  };
  for (const DType dtype : {DType::F32, DType::BF16})
    for (const bool concurrent : {false, true}) {
      const std::string type = dtype_name(dtype);
      CAPTURE(type);
      CAPTURE(concurrent);
      const auto run = [&](bool bound) {
        ParameterSet ps;
        Variable w = ps.add("conv.weight", Tensor::from_host(values(6 * 3 * 3 * 6, 1.f), {6, 3, 3, 6}));
        Variable cb = ps.add("conv.bias", Tensor::from_host(values(6, 2.f), {6}));
        Variable gamma = ps.add("bn.gamma", Tensor::from_host(values(6, 3.f), {6}));
        Variable beta = ps.add("bn.beta", Tensor::from_host(values(6, 4.f), {6}));
        Variable fw = ps.add("fc.weight", Tensor::from_host(values(4 * 6, 5.f), {4, 6}));
        Variable fb = ps.add("fc.bias", Tensor::from_host(values(4, 6.f), {4}));
        if (bound) ps.pack(Device::CPU);
        Tensor rm = Tensor::zeros({6}), rv = Tensor::from_host(std::vector<float>(6, 1.f), {6});
        Variable x(Tensor::from_host(values(2 * 5 * 5 * 6, 7.f), {2, 5, 5, 6}));
        if (dtype == DType::BF16) x = cast(x, dtype);
        cpu_backend().set_concurrency(concurrent);
        Variable h = conv2d(relu(conv2d(x, w, cb, 1, 1)), w, Variable(), 1, 1);
        h = batchnorm_relu(h, gamma, beta, rm, rv, true, 0.1f, 1e-5f);
        Variable logits = linear(global_avgpool(h), fw, fb);
        softmax_cross_entropy(logits, Tensor::from_host(values(2 * 4, 8.f), {2, 4})).backward();
        cpu_backend().set_concurrency(false);
        std::vector<std::vector<float>> grads;
        for (const Variable& p : {w, cb, gamma, beta, fw, fb}) grads.push_back(p.grad().to_host());
        CHECK(w.grad_buffer().defined() == bound);
        return grads;
      };
      const auto plain = run(false), in_buffers = run(true);
      for (size_t i = 0; i < plain.size(); ++i) {
        CAPTURE(i);
        CHECK(plain[i] == in_buffers[i]);
      }
    }
}

// A parameter that wants no gradient keeps its bound buffer untouched, even where the backend
// writes its gradient anyway (batch norm's dgamma); the others still get theirs.
TEST_CASE("a bound buffer of a parameter that wants no gradient is not written") {
  std::vector<float> xs(4 * 3);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(0.7f * float(i));
  Variable x(Tensor::from_host(xs, {4, 3}), true);
  Variable gamma(Tensor::from_host({1.f, 2.f, 3.f}, {3}), false);
  Variable beta(Tensor::from_host({0.f, 0.f, 0.f}, {3}), true);
  gamma.bind_grad_buffer(Tensor::from_host({7.f, 7.f, 7.f}, {3}));
  beta.bind_grad_buffer(Tensor::from_host({1.f, 1.f, 1.f}, {3}));
  Tensor rm = Tensor::zeros({3}), rv = Tensor::from_host({1.f, 1.f, 1.f}, {3});
  // A seed that is not constant per channel, so that dgamma = sum(seed * xhat) is not zero.
  std::vector<float> seed(xs.size());
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = std::cos(1.3f * float(i));
  batchnorm(x, gamma, beta, rm, rv, true, 0.1f, 1e-5f).backward(Tensor::from_host(seed, {4, 3}));
  CHECK(gamma.grad_buffer().to_host() == std::vector<float>{7.f, 7.f, 7.f});
  // d/d beta = the seed's column sums, added to the 1 the buffer held.
  std::vector<float> want(3);
  for (size_t j = 0; j < 3; ++j) {
    double column = 0;
    for (size_t i = 0; i < 4; ++i) column += seed[i * 3 + j];
    want[j] = 1.f + float(column);
  }
  CHECK(beta.grad().to_host() == want);
  CHECK(x.has_grad());
}
