#pragma once
// Holding out a validation set from the training data. The validation part keeps hard labels
// (it measures accuracy); only the training part is ever given soft labels.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace rf::data {

enum class SplitMode {
  Random,  // a seeded random subset
  Tail,    // the last `fraction` of the training file, as in the blog's Keras validation_split
};

struct SplitOptions {
  double fraction = 0.15;
  SplitMode mode = SplitMode::Random;
  std::uint64_t seed = 0;
};

struct Split {
  Dataset train;
  Dataset val;
  // Positions in the source dataset, ascending, so soft labels or logs can refer back to it.
  std::vector<std::size_t> train_indices;
  std::vector<std::size_t> val_indices;
};

// Validation size is round(fraction * N); fraction must be in [0, 1).
Split split_validation(const Dataset& d, const SplitOptions& options = {});

}  // namespace rf::data
