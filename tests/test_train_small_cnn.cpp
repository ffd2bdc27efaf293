// Autograd, optimizers and kernels together: a small CNN fitted to one fixed batch on the CPU
// must drive its loss down by at least 10x, with SGD and with Adam.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "engine/ops.h"
#include "engine/optimizer.h"

using namespace rf;

namespace {

std::vector<float> he_normal(int64_t n, int fan_in, std::mt19937& rng) {
  std::normal_distribution<float> d(0.f, std::sqrt(2.f / float(fan_in)));
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

struct SmallCnn {
  ParameterSet params;
  Variable c1w, c1b, g1, b1, c2w, c2b, g2, b2, fw, fb;
  Tensor rm1 = Tensor::zeros({8}), rv1 = Tensor::full({8}, 1.f);
  Tensor rm2 = Tensor::zeros({16}), rv2 = Tensor::full({16}, 1.f);

  explicit SmallCnn(unsigned seed) {
    std::mt19937 rng(seed);
    c1w = params.add("conv1.weight", Tensor::from_host(he_normal(8 * 9 * 3, 27, rng), {8, 3, 3, 3}));
    c1b = params.add("conv1.bias", Tensor::zeros({8}));
    g1 = params.add("bn1.gamma", Tensor::full({8}, 1.f));
    b1 = params.add("bn1.beta", Tensor::zeros({8}));
    c2w = params.add("conv2.weight", Tensor::from_host(he_normal(16 * 9 * 8, 72, rng), {16, 3, 3, 8}));
    c2b = params.add("conv2.bias", Tensor::zeros({16}));
    g2 = params.add("bn2.gamma", Tensor::full({16}, 1.f));
    b2 = params.add("bn2.beta", Tensor::zeros({16}));
    fw = params.add("fc.weight", Tensor::from_host(he_normal(10 * 16, 16, rng), {10, 16}));
    fb = params.add("fc.bias", Tensor::zeros({10}));
    params.pack(Device::CPU);
  }

  Variable forward(const Variable& x) {
    Variable h = relu(batchnorm(conv2d(x, c1w, c1b, 1, 1), g1, b1, rm1, rv1, true, 0.1f, 1e-5f));
    h = maxpool2d(h, 3, 2, 1);
    Variable r = relu(batchnorm(conv2d(h, c2w, c2b, 1, 1), g2, b2, rm2, rv2, true, 0.1f, 1e-5f));
    h = add(r, Variable(r.value()));  // exercise a residual-style add with a constant branch
    return linear(global_avgpool(h), fw, fb);
  }
};

// Returns (first loss, last loss) after `steps` steps on one batch.
template <class MakeOpt>
std::pair<float, float> fit(MakeOpt make_opt, int steps) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const int n = 16;
  std::vector<float> x(size_t(n) * 8 * 8 * 3), t(size_t(n) * 10, 0.f);
  for (float& v : x) v = u(rng);
  for (int i = 0; i < n; ++i) t[size_t(i) * 10 + i % 10] = 1.f;
  const Variable xv(Tensor::from_host(x, {n, 8, 8, 3}));
  const Tensor targets = Tensor::from_host(t, {n, 10});
  SmallCnn net(1);
  auto opt = make_opt(net.params);
  float first = 0, last = 0;
  for (int s = 0; s < steps; ++s) {
    net.params.zero_grad();
    Variable loss = softmax_cross_entropy(net.forward(xv), targets);
    loss.backward();
    opt.step();
    last = loss.value().item();
    if (s == 0) first = last;
  }
  return {first, last};
}

}  // namespace

TEST_CASE("a small CNN fits a fixed batch with SGD (momentum): loss falls at least 10x") {
  auto [first, last] =
      fit([](ParameterSet& p) { return Sgd(p, SgdParams{0.1f, 0.9f, 0.f, false}); }, 150);
  std::printf("sgd:  loss %.4f -> %.5f\n", first, last);
  CHECK(std::isfinite(last));
  CHECK(last * 10 < first);
}

TEST_CASE("a small CNN fits a fixed batch with Adam: loss falls at least 10x") {
  auto [first, last] = fit(
      [](ParameterSet& p) {
        AdamParams a;
        a.lr = 1e-2f;
        return Adam(p, a);
      },
      150);
  std::printf("adam: loss %.4f -> %.5f\n", first, last);
  CHECK(std::isfinite(last));
  CHECK(last * 10 < first);
}
