#pragma once
// Cases shared by the CPU and GPU suites of the backends' data ops (augment_batch, gather_rows):
// every augmentation kind, a random uint8 image set, and a per-channel normalization.
#include <cstdint>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "data/rng.h"

namespace rf::test {

struct AugmentCase {
  std::string name;
  data::AugmentConfig config;
};

inline std::vector<AugmentCase> augment_cases() {
  data::AugmentConfig keras_noflip = data::AugmentConfig::blog(false);
  data::AugmentConfig keras_wide = data::AugmentConfig::blog(true);
  keras_wide.keras = {45.0f, 0.4f, 0.3f, 0.25f, true};  // far outside the image: nearest fill
  data::AugmentConfig crop_noflip = data::AugmentConfig::pad_crop_flip(2);
  crop_noflip.crop.horizontal_flip = false;
  return {{"none", data::AugmentConfig{}},
          {"keras", data::AugmentConfig::blog(true)},
          {"keras-noflip", keras_noflip},
          {"keras-wide", keras_wide},
          {"cropflip", data::AugmentConfig::pad_crop_flip(4)},
          {"crop-noflip", crop_noflip},
          {"cropflip-pad9", data::AugmentConfig::pad_crop_flip(9)}};
}

inline std::vector<std::uint8_t> random_images(std::int64_t count, int h, int w, int c,
                                               std::uint64_t seed) {
  std::vector<std::uint8_t> v(std::size_t(count) * std::size_t(h) * std::size_t(w) * std::size_t(c));
  data::Rng rng(seed);
  for (auto& px : v) px = static_cast<std::uint8_t>(rng.next());
  return v;
}

// count random images of h x w x c with labels i % classes.
inline data::Dataset random_dataset(std::int64_t count, int h, int w, int c, int classes,
                                    std::uint64_t seed) {
  data::Dataset d;
  d.name = "random";
  d.height = h;
  d.width = w;
  d.channels = c;
  for (int k = 0; k < classes; ++k) d.classes.push_back(std::to_string(k));
  d.images = random_images(count, h, w, c, seed);
  for (std::int64_t i = 0; i < count; ++i) d.labels.push_back(std::int32_t(i % classes));
  return d;
}

// Means and deviations unlike each other, so a channel mix-up shows.
inline data::Normalization test_normalization(int c) {
  data::Normalization n;
  for (int k = 0; k < c; ++k) {
    n.mean.push_back(0.3f + 0.11f * float(k));
    n.stddev.push_back(0.17f + 0.05f * float(k));
  }
  return n;
}

inline AugmentBatch augment_batch_of(const data::AugmentConfig& config, std::int64_t count, int h,
                                     int w, int c, std::int64_t n, std::uint64_t seed,
                                     std::uint64_t epoch, const data::Normalization& norm) {
  AugmentBatch a;
  a.count = count;
  a.h = h;
  a.w = w;
  a.c = c;
  a.n = n;
  a.seed = seed;
  a.epoch = epoch;
  a.spec = config;
  a.norm = data::channel_affine(norm, c, "test");
  return a;
}

}  // namespace rf::test
