#pragma once
// Runs an optimizer for a few steps with fixed pseudo-random gradients over two parameters of odd
// sizes packed on `device`, and checks the parameters against the double reference fed the same
// gradients. Shared by the CPU and the CUDA suites.
#include <doctest/doctest.h>

#include "engine/optimizer.h"
#include "random_values.h"
#include "reference.h"

namespace rf::test {

// make(ParameterSet&) -> an Optimizer; ref_step(step, param, grad, state1, state2).
template <class Make, class RefStep>
void check_optimizer_against_reference(Make make, RefStep ref_step, Device device) {
  ParameterSet ps;
  ps.add("a", Tensor::from_host(random_floats(7, 1), {7}));
  ps.add("b", Tensor::from_host(random_floats(33, 2), {3, 11}));
  ps.pack(device);
  auto opt = make(ps);
  const std::vector<float> initial = ps.values().to_host();
  ref::Vec param(initial.begin(), initial.end());
  ref::Vec s1(param.size()), s2(param.size());
  for (int step = 1; step <= 5; ++step) {
    const std::vector<float> g = random_floats(param.size(), 10 + step);
    ps.grads().copy_from(Tensor::from_host(g, {int64_t(g.size())}));
    opt.step();
    ref_step(step, param, ref::Vec(g.begin(), g.end()), s1, s2);
  }
  const std::vector<float> got = ps.values().to_host();
  for (size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == doctest::Approx(param[i]).epsilon(1e-5));
}

}  // namespace rf::test

namespace rf::test {

inline void check_sgd_variants(Device device) {
  for (bool nesterov : {false, true}) {
    CAPTURE(nesterov);
    const SgdParams p{0.1f, 0.9f, 5e-4f, nesterov};
    check_optimizer_against_reference(
        [&](ParameterSet& ps) { return Sgd(ps, p); },
        [&](int, ref::Vec& w, const ref::Vec& g, ref::Vec& v, ref::Vec&) {
          ref::sgd_step(p.lr, p.momentum, p.weight_decay, p.nesterov, w, g, v);
        },
        device);
  }
}

inline void check_adam_variants(Device device) {
  for (bool decoupled : {false, true}) {
    CAPTURE(decoupled);
    AdamParams p;
    p.lr = 1e-2f;
    p.weight_decay = 1e-2f;
    p.decoupled = decoupled;
    check_optimizer_against_reference(
        [&](ParameterSet& ps) { return Adam(ps, p); },
        [&](int step, ref::Vec& w, const ref::Vec& g, ref::Vec& m, ref::Vec& v) {
          ref::adam_step(p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.decoupled, step, w, g,
                         m, v);
        },
        device);
  }
}

}  // namespace rf::test
