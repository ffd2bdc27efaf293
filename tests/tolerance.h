#pragma once
// How far a GPU result computed with TF32 tensor cores may be from an FP32/double one, as a
// normalized error (max |got - want| / max |want| over the tensor).
//
// TF32 keeps 10 explicit mantissa bits: each operand of a product is rounded with relative error
// <= 2^-11, so a product carries ~2^-10 ~ 1e-3, and the FP32 accumulation adds nothing
// comparable. Summing K products with independent errors is a random walk, ~1e-3 * sqrt(K) *
// rms(product); a zero-mean output is itself ~sqrt(K) * rms(product), so relative to the
// tensor's largest value the error stays near 1e-3 whatever K. Outputs that cancel more than a
// random walk (gradients, padded borders) are smaller than that, so the tolerance grows like
// sqrt(K / 1024) beyond 1024 terms: 2.1e-3 for the 4,608-term reductions of ResNet50's 3x3
// convolutions, still far below a wrong tap, channel or layout (O(1)). The H200 showed ~3e-4 on
// such shapes.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace rf::test {

// `reduction`: the longest sum of products behind any output element (K).
inline double tf32_tolerance(int64_t reduction) {
  return 1e-3 * std::max(1.0, std::sqrt(double(reduction) / 1024.0));
}

}  // namespace rf::test
