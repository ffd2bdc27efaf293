// The fused optimizer updates of the CPU backend against step-by-step double references, through
// the Optimizer classes over a packed ParameterSet (so the flat-buffer plumbing is exercised too).
#include <doctest/doctest.h>

#include "optimizer_check.h"

using namespace rf;

TEST_CASE("sgd with momentum, nesterov and weight decay matches the reference") {
  test::check_sgd_variants(Device::CPU);
}

TEST_CASE("adam and adamw match the reference, bias correction included") {
  test::check_adam_variants(Device::CPU);
}
