#pragma once
// Reproducible uniform test values, shared by the suites that need plain float vectors.
#include <cstdint>
#include <random>
#include <vector>

namespace rf::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace rf::test
