#include "data/dataset.h"

#include "data/bytes.h"

#include <algorithm>

namespace rf::data {

void Dataset::validate(const std::string& where) const {
  if (height <= 0 || width <= 0 || channels <= 0)
    fail(where, "invalid image shape " + std::to_string(height) + "x" + std::to_string(width) +
                    "x" + std::to_string(channels));
  if (classes.empty()) fail(where, "no classes");
  if (images.size() != checked_mul(size(), sample_bytes(), where))
    fail(where, "image buffer holds " + std::to_string(images.size()) + " bytes, expected " +
                    std::to_string(size()) + " images of " + std::to_string(sample_bytes()));
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= num_classes())
      fail(where, "label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                      " is outside [0, " + std::to_string(num_classes()) + ")");
}

Dataset subset(const Dataset& d, std::span<const std::size_t> indices) {
  Dataset out;
  out.name = d.name;
  out.height = d.height;
  out.width = d.width;
  out.channels = d.channels;
  out.classes = d.classes;
  const std::size_t sb = d.sample_bytes();
  out.images.resize(indices.size() * sb);
  out.labels.resize(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] >= d.size())
      fail(d.name, "subset index " + std::to_string(indices[k]) + " out of range");
    std::copy_n(d.image(indices[k]), sb, out.image(k));
    out.labels[k] = d.labels[indices[k]];
  }
  return out;
}

void append(Dataset& dst, const Dataset& src) {
  if (dst.height != src.height || dst.width != src.width || dst.channels != src.channels ||
      dst.classes != src.classes)
    fail(dst.name, "cannot append " + src.name + ": shapes or classes differ");
  dst.images.insert(dst.images.end(), src.images.begin(), src.images.end());
  dst.labels.insert(dst.labels.end(), src.labels.begin(), src.labels.end());
}

Dataset to_three_channels(const Dataset& d) {
  if (d.channels == 3) return d;
  if (d.channels != 1)
    fail(d.name, "cannot make 3 channels from " + std::to_string(d.channels));
  Dataset out;
  out.name = d.name;
  out.height = d.height;
  out.width = d.width;
  out.channels = 3;
  out.classes = d.classes;
  out.labels = d.labels;
  out.images.resize(d.images.size() * 3);
  for (std::size_t i = 0; i < d.images.size(); ++i)
    out.images[3 * i] = out.images[3 * i + 1] = out.images[3 * i + 2] = d.images[i];
  return out;
}

Dataset resize_dataset(const Dataset& d, ImageSize size) {
  const ImageSize from{d.height, d.width};
  if (from == size) return d;
  Dataset out;
  out.name = d.name;
  out.height = size.height;
  out.width = size.width;
  out.channels = d.channels;
  out.classes = d.classes;
  out.labels = d.labels;
  out.images.resize(d.size() * out.sample_bytes());
  for (std::size_t i = 0; i < d.size(); ++i) {
    const std::vector<std::uint8_t> px = resize_image(d.image(i), from, d.channels, size);
    std::copy(px.begin(), px.end(), out.image(i));
  }
  return out;
}

}  // namespace rf::data
