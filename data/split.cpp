#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/bytes.h"
#include "data/rng.h"

namespace rf::data {

Split split_validation(const Dataset& d, const SplitOptions& options) {
  if (!(options.fraction >= 0.0 && options.fraction < 1.0))
    fail(d.name, "validation fraction " + std::to_string(options.fraction) + " is not in [0, 1)");
  const std::size_t n = d.size();
  const auto n_val = static_cast<std::size_t>(std::llround(options.fraction * static_cast<double>(n)));
  std::vector<std::size_t> order;
  if (options.mode == SplitMode::Tail) {
    order.resize(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n - n_val), order.end());
  } else {
    Rng rng(options.seed, 0x5b1175ull);
    order = permutation(n, rng);
  }
  Split s;
  s.val_indices.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val));
  s.train_indices.assign(order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end());
  std::sort(s.val_indices.begin(), s.val_indices.end());
  std::sort(s.train_indices.begin(), s.train_indices.end());
  s.train = subset(d, s.train_indices);
  s.val = subset(d, s.val_indices);
  return s;
}

}  // namespace rf::data
