// Every op of the CPU backend (forward, input gradients, side outputs) against the naive
// double-precision references, over the whole op table. Prints the error per op.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include "engine/backend.h"

#include "op_cases.h"

using namespace rf;
using namespace rf::test;

namespace {

std::vector<ref::Vec> inputs_as_double(const OpCase& c) {
  std::vector<ref::Vec> in;
  for (const auto& v : c.inputs) in.emplace_back(v.begin(), v.end());
  return in;
}

}  // namespace

TEST_CASE("cpu backend matches the naive references for every op") {
  std::printf("%-70s %12s %12s %10s\n", "op (cpu vs reference)", "forward", "gradients", "tol");
  for (const OpCase& c : all_op_cases()) {
    CAPTURE(case_name(c));
    const RunOut got = run_case(c, Device::CPU);
    const std::vector<float> dy = upstream_grad(int64_t(got.y.size()));
    const RefOut want = c.reference(inputs_as_double(c), ref::Vec(dy.begin(), dy.end()));
    const double fwd = normalized_error(got.y, want.y);
    double bwd = 0;
    REQUIRE(got.grads.size() == (c.backward ? want.grads.size() : 0));
    for (size_t i = 0; i < got.grads.size(); ++i)
      bwd = std::max(bwd, normalized_error(got.grads[i], want.grads[i]));
    for (const auto& [name, v] : want.extras) {
      REQUIRE(got.extras.count(name));
      CHECK_MESSAGE(normalized_error(got.extras.at(name), v) < c.ref_tol, name);
    }
    std::printf("%-70s %12.2e %12.2e %10.1e\n", case_name(c).c_str(), fwd, bwd, c.ref_tol);
    CHECK(fwd < c.ref_tol);
    CHECK(bwd < c.ref_tol);
  }
}

// The CPU backend promises bitwise-repeatable runs for a given thread count: oneDNN's
// convolutions (their filter-gradient reductions across threads included) and our reductions.
TEST_CASE("cpu backend repeats every op bitwise") {
  for (const OpCase& c : all_op_cases()) {
    CAPTURE(case_name(c));
    const RunOut first = run_case(c, Device::CPU);
    const RunOut second = run_case(c, Device::CPU);
    CHECK(first.y == second.y);
    CHECK(first.grads == second.grads);
    CHECK(first.extras == second.extras);
  }
}

// Backend's default batchnorm_relu_* (batch norm, add, ReLU composed: what the CUDA backend runs)
// called on the CPU backend against the CPU's own fused kernels, with and without a residual, with
// dgamma and dbeta overwritten and accumulated.
TEST_CASE("the composed batch norm + add + ReLU equals the fused CPU kernels") {
  Backend& be = cpu_backend();
  const BnGeom g{4, 3, 5, 6};
  const int64_t n = g.rows() * g.c;
  const std::vector<float> x = uniform(n, 1, -2.f, 3.f), r = uniform(n, 2, -1.f, 1.f),
                           dy = uniform(n, 3, -1.f, 1.f), gamma = uniform(g.c, 4, 0.5f, 1.5f),
                           beta = uniform(g.c, 5, -0.5f, 0.5f);
  const std::vector<float> prior = uniform(g.c, 6, -2.f, 2.f);
  for (const bool with_residual : {true, false}) for (const bool accumulate : {false, true}) {
    CAPTURE(with_residual);
    CAPTURE(accumulate);
    const float* res = with_residual ? r.data() : nullptr;
    struct Out {
      std::vector<float> y, mean, invstd, rmean, rvar, dx, dres, dgamma, dbeta, eval;
    };
    auto run = [&](bool composed) {
      Out o{std::vector<float>(n), std::vector<float>(g.c), std::vector<float>(g.c),
            std::vector<float>(g.c, 0.1f), std::vector<float>(g.c, 1.2f), std::vector<float>(n),
            std::vector<float>(n), accumulate ? prior : std::vector<float>(g.c, NAN),
            accumulate ? prior : std::vector<float>(g.c, NAN), std::vector<float>(n)};
      float* dres = with_residual ? o.dres.data() : nullptr;
      if (composed) {
        be.Backend::batchnorm_relu_forward_train(g, x.data(), res, gamma.data(), beta.data(),
                                                 1e-5f, 0.1f, o.rmean.data(), o.rvar.data(),
                                                 o.y.data(), o.mean.data(), o.invstd.data());
        be.Backend::batchnorm_relu_backward(g, x.data(), o.y.data(), dy.data(), gamma.data(),
                                            o.mean.data(), o.invstd.data(), 1e-5f, o.dx.data(),
                                            dres, o.dgamma.data(), o.dbeta.data(), accumulate);
        be.Backend::batchnorm_relu_forward_eval(g, x.data(), res, gamma.data(), beta.data(),
                                                o.rmean.data(), o.rvar.data(), 1e-5f,
                                                o.eval.data());
      } else {
        be.batchnorm_relu_forward_train(g, x.data(), res, gamma.data(), beta.data(), 1e-5f, 0.1f,
                                        o.rmean.data(), o.rvar.data(), o.y.data(), o.mean.data(),
                                        o.invstd.data());
        be.batchnorm_relu_backward(g, x.data(), o.y.data(), dy.data(), gamma.data(),
                                   o.mean.data(), o.invstd.data(), 1e-5f, o.dx.data(), dres,
                                   o.dgamma.data(), o.dbeta.data(), accumulate);
        be.batchnorm_relu_forward_eval(g, x.data(), res, gamma.data(), beta.data(),
                                       o.rmean.data(), o.rvar.data(), 1e-5f, o.eval.data());
      }
      return o;
    };
    const Out a = run(true), b = run(false);
    int zeros = 0;
    for (float v : b.y) zeros += v == 0.f;
    CHECK(zeros > n / 10);  // the ReLU is doing something
    CHECK(normalized_error(a.y, b.y) < 1e-6);
    CHECK(normalized_error(a.rmean, b.rmean) < 1e-6);
    CHECK(normalized_error(a.rvar, b.rvar) < 1e-6);
    CHECK(normalized_error(a.dx, b.dx) < 1e-6);
    CHECK(normalized_error(a.dgamma, b.dgamma) < 1e-6);
    CHECK(normalized_error(a.dbeta, b.dbeta) < 1e-6);
    CHECK(normalized_error(a.eval, b.eval) < 1e-6);
    if (with_residual) CHECK(normalized_error(a.dres, b.dres) < 1e-6);
  }
}
