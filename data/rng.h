#pragma once
// Deterministic random numbers for shuffles, splits and augmentation: the counter-keyed generator
// of kernels/keyed_rng.h (there so that the GPU augmentation draws the same numbers).

#include <cstddef>
#include <numeric>
#include <utility>
#include <vector>

#include "kernels/keyed_rng.h"

namespace rf::data {

using Rng = KeyedRng;

// A Fisher-Yates permutation of 0..n-1.
inline std::vector<std::size_t> permutation(std::size_t n, Rng& rng) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), std::size_t{0});
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.below(i)]);
  return p;
}

}  // namespace rf::data
