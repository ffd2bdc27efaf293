// Central finite differences against the autograd gradients: for every op in the table, and for a
// small conv-bn-relu-pool-linear network end to end.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "engine/ops.h"
#include "op_cases.h"

using namespace rf;
using namespace rf::test;

namespace {

// Float32 forward passes differenced with a step of 1e-2: a few parts in a thousand is the noise
// floor; a wrong gradient is off by its own size.
constexpr double kTolerance = 1e-2;
constexpr int kCoordinatesPerInput = 24;

// f(inputs) = sum(forward(inputs) * R) for the fixed upstream R, in double on the host.
double objective(const OpCase& c, const std::vector<std::vector<float>>& inputs) {
  std::vector<Variable> in;
  for (size_t i = 0; i < inputs.size(); ++i)
    in.emplace_back(Tensor::from_host(inputs[i], c.input_shapes[i]), false);
  Extras extras;
  const std::vector<float> y = c.forward(in, Device::CPU, extras).value().to_host();
  const std::vector<float> r = upstream_grad(int64_t(y.size()));
  double f = 0;
  for (size_t i = 0; i < y.size(); ++i) f += double(y[i]) * r[i];
  return f;
}

}  // namespace

TEST_CASE("finite differences agree with autograd for every op") {
  std::printf("%-70s %12s\n", "op (finite differences vs autograd)", "error");
  for (const OpCase& c : all_op_cases()) {
    if (!c.backward || !c.gradcheck) continue;
    CAPTURE(case_name(c));
    const RunOut analytic = run_case(c, Device::CPU);
    double worst = 0;
    std::mt19937 rng(7);
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      double scale = 1e-3;
      for (float g : analytic.grads[i]) scale = std::max(scale, double(std::abs(g)));
      const size_t n = c.inputs[i].size();
      for (int t = 0; t < kCoordinatesPerInput && t < int(n); ++t) {
        const size_t k = n <= size_t(kCoordinatesPerInput) ? size_t(t) : rng() % n;
        std::vector<std::vector<float>> plus = c.inputs, minus = c.inputs;
        plus[i][k] += float(c.fd_step);
        minus[i][k] -= float(c.fd_step);
        const double numeric = (objective(c, plus) - objective(c, minus)) / (2 * c.fd_step);
        worst = std::max(worst, std::abs(numeric - analytic.grads[i][k]) / scale);
      }
    }
    std::printf("%-70s %12.2e\n", case_name(c).c_str(), worst);
    CHECK(worst < kTolerance);
  }
}

TEST_CASE("finite differences agree with autograd through a conv-bn-relu-pool-linear network") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  auto rand = [&](int64_t n, float s) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = s * u(rng);
    return v;
  };
  const Shape xs{2, 6, 6, 3}, ws{4, 3, 3, 3}, fs{5, 4};
  std::vector<std::vector<float>> params = {rand(shape_numel(xs), 1.f), rand(shape_numel(ws), 0.5f),
                                            rand(4, 0.1f), rand(4, 0.5f), rand(4, 0.2f),
                                            rand(shape_numel(fs), 0.5f), rand(5, 0.1f)};
  params[3] = rand(4, 0.3f);
  for (float& g : params[3]) g += 1.f;  // gamma near 1
  const std::vector<Shape> shapes = {xs, ws, {4}, {4}, {4}, fs, {5}};
  std::vector<float> targets(10, 0.f);
  targets[1] = 0.7f, targets[3] = 0.3f, targets[5 + 4] = 1.f;

  auto loss_of = [&](const std::vector<std::vector<float>>& p, bool grad,
                     std::vector<Variable>* leaves) {
    std::vector<Variable> v;
    for (size_t i = 0; i < p.size(); ++i) v.emplace_back(Tensor::from_host(p[i], shapes[i]), grad);
    Tensor rm = Tensor::zeros({4}), rv = Tensor::full({4}, 1.f);
    Variable h = conv2d(v[0], v[1], v[2], 1, 1);
    h = relu(batchnorm(h, v[3], v[4], rm, rv, true, 0.1f, 1e-5f));
    h = global_avgpool(maxpool2d(h, 3, 2, 1));
    Variable loss = softmax_cross_entropy(linear(h, v[5], v[6]), Tensor::from_host(targets, {2, 5}));
    if (leaves) *leaves = v;
    return loss;
  };

  std::vector<Variable> leaves;
  Variable loss = loss_of(params, true, &leaves);
  loss.backward();
  // The loss is one averaged scalar, so a small step keeps clear of ReLU and max-pool kinks while
  // float rounding stays far below the tolerance.
  const double h = 1e-3;
  for (size_t i = 0; i < params.size(); ++i) {
    CAPTURE(i);
    const std::vector<float> g = leaves[i].grad().to_host();
    double scale = 1e-3;
    for (float x : g) scale = std::max(scale, double(std::abs(x)));
    for (size_t k = 0; k < params[i].size(); k += 1 + params[i].size() / 12) {
      auto plus = params, minus = params;
      plus[i][k] += float(h);
      minus[i][k] -= float(h);
      const double numeric = (double(loss_of(plus, false, nullptr).value().item()) -
                              double(loss_of(minus, false, nullptr).value().item())) / (2 * h);
      CHECK(std::abs(numeric - g[k]) / scale < kTolerance);
    }
  }
}
