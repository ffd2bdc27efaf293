#pragma once
// Per-channel normalization, uint8 -> float: out = (px / 255 - mean[c]) / stddev[c].
// mean and stddev are on the [0, 1] pixel scale and come from the training split only, so
// validation and test data never leak into preprocessing.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "kernels/augment_spec.h"

namespace rf::data {

using ::rf::kMaxChannels;

struct Normalization {
  std::vector<float> mean;
  std::vector<float> stddev;

  static Normalization identity(int channels);  // plain px / 255
  int channels() const { return static_cast<int>(mean.size()); }
  // out = px * scale(c) + bias(c): the form the hot loops use.
  float scale(int c) const { return 1.0f / (255.0f * stddev[static_cast<std::size_t>(c)]); }
  float bias(int c) const {
    return -mean[static_cast<std::size_t>(c)] / stddev[static_cast<std::size_t>(c)];
  }
};

Normalization compute_normalization(const Dataset& train);

// The (scale, bias) pairs of `norm` for images of `channels` channels, as the augmentation
// kernels take them; throws, naming `where`, when the channel counts differ or exceed
// kMaxChannels.
ChannelAffine channel_affine(const Normalization& norm, int channels, const std::string& where);

// `pixels` interleaved pixels of norm.channels() channels.
void normalize_image(const std::uint8_t* src, float* dst, std::size_t pixels,
                     const Normalization& norm);

}  // namespace rf::data
