#include "data/sample_order.h"

#include "data/rng.h"

namespace rf::data {

std::vector<std::size_t> sample_order(std::size_t n, std::uint64_t seed) {
  // Its own stream, apart from those of the validation split and the loader's epoch orders.
  Rng rng(seed, 0x5a3b1e0dull);
  return permutation(n, rng);
}

Dataset in_sample_order(const Dataset& d, std::uint64_t seed) {
  return subset(d, sample_order(d.size(), seed));
}

}  // namespace rf::data
