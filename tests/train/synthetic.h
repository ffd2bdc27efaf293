#pragma once
// A tiny learnable dataset for trainer tests: class c brightens channel c of an 8x8 RGB image,
// on top of deterministic pseudo-random noise.
#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"

namespace rf::test {

inline data::Dataset synthetic_dataset(int n, uint32_t salt) {
  data::Dataset d;
  d.name = "synthetic";
  d.height = d.width = 8;
  d.channels = 3;
  d.classes = {"r", "g", "b"};
  d.labels.resize(size_t(n));
  d.images.resize(size_t(n) * d.sample_bytes());
  uint32_t state = 12345u + salt;
  for (int i = 0; i < n; ++i) {
    d.labels[size_t(i)] = i % 3;
    uint8_t* img = d.image(size_t(i));
    for (size_t p = 0; p < d.sample_bytes(); ++p) {
      state = state * 1664525u + 1013904223u;
      const int noise = int(state >> 25);  // 0..127
      img[p] = uint8_t(noise + (int(p % 3) == i % 3 ? 120 : 0));
    }
  }
  return d;
}

inline data::LoaderOptions loader_options(bool shuffle) {
  data::LoaderOptions o;
  o.batch_size = 16;
  o.shuffle = shuffle;
  o.seed = 7;
  o.workers = 0;
  return o;
}

}  // namespace rf::test
