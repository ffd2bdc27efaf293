#pragma once
// The in-memory dataset every reader produces: uint8 images in NHWC order plus integer labels.
//
// Channels: grayscale sources (Fashion-MNIST, MNIST) keep 1 channel here, so caches and static
// augmentation stay 3x smaller; a model built for RGB input gets them through
// to_three_channels(), which replicates the gray plane. Image folders always decode to RGB.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "data/image_resize.h"

namespace rf::data {

struct Dataset {
  std::string name;
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<std::string> classes;  // label i is classes[i]
  std::vector<std::uint8_t> images;  // size() * height * width * channels, NHWC
  std::vector<std::int32_t> labels;  // one per image, in [0, classes.size())

  std::size_t size() const { return labels.size(); }
  int num_classes() const { return static_cast<int>(classes.size()); }
  std::size_t sample_bytes() const {
    return static_cast<std::size_t>(height) * static_cast<std::size_t>(width) *
           static_cast<std::size_t>(channels);
  }
  const std::uint8_t* image(std::size_t i) const { return images.data() + i * sample_bytes(); }
  std::uint8_t* image(std::size_t i) { return images.data() + i * sample_bytes(); }

  // Throws (naming `where`) unless shapes, buffer sizes and label ranges are consistent.
  void validate(const std::string& where) const;
};

struct TrainTest {
  Dataset train;
  Dataset test;
};

// Samples `indices` (in that order) of `d`; indices must be < d.size().
Dataset subset(const Dataset& d, std::span<const std::size_t> indices);
// Appends `src` to `dst`; both must have the same shape and classes.
void append(Dataset& dst, const Dataset& src);
// 1-channel dataset -> 3 identical channels; a 3-channel dataset is returned unchanged.
Dataset to_three_channels(const Dataset& d);
// Every image resized to `size` (image_resize.h); a dataset of that size is returned unchanged.
Dataset resize_dataset(const Dataset& d, ImageSize size);

}  // namespace rf::data
