// Every op of the CPU backend (forward, input gradients, side outputs) against the naive
// double-precision references, over the whole op table. Prints the error per op.
#include <doctest/doctest.h>

#include <cstdio>

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
  std::printf("%-70s %12s %12s\n", "op (cpu vs reference)", "forward", "gradients");
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
    std::printf("%-70s %12.2e %12.2e\n", case_name(c).c_str(), fwd, bwd);
    CHECK(fwd < c.ref_tol);
    CHECK(bwd < c.ref_tol);
  }
}
