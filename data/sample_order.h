#pragma once
// One fixed, seeded order for the samples of a source that lists them class by class.
//
// An image-folder tree yields its files sorted by class, so a split taken by position would be
// whole classes: the blog's validation split, the last 15% of the training file (Keras'
// validation_split), would hold only ships and trucks and leave training without trucks, and
// the first training images (the report's Figure 4) would all be airplanes. The official
// CIFAR-10 binary batches, SVHN .mat and Fashion-MNIST IDX files were shuffled once by their
// authors, and that published order is kept. A class-sorted source gets the same treatment at
// load (registry.h): one pseudo-random permutation that depends only on the sample count and a
// seed, identical on every machine (data/rng.h), applied after decoding and after the cache,
// so a dataset is the same whether it was decoded now or read from the cache.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace rf::data {

// The seed of the order new runs use (recorded in their config.json).
inline constexpr std::uint64_t kDefaultSampleOrderSeed = 0;

// A permutation of 0..n-1: position i of the ordered dataset holds sample result[i] of the
// source. Depends only on (n, seed).
std::vector<std::size_t> sample_order(std::size_t n, std::uint64_t seed);

// `d` in sample_order(d.size(), seed).
Dataset in_sample_order(const Dataset& d, std::uint64_t seed);

}  // namespace rf::data
