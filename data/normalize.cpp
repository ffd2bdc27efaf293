#include "data/normalize.h"

#include <cmath>

#include "data/bytes.h"

namespace rf::data {

Normalization Normalization::identity(int channels) {
  return {std::vector<float>(static_cast<std::size_t>(channels), 0.0f),
          std::vector<float>(static_cast<std::size_t>(channels), 1.0f)};
}

Normalization compute_normalization(const Dataset& train) {
  if (train.size() == 0) fail(train.name, "cannot compute normalization of an empty dataset");
  const auto c = static_cast<std::size_t>(train.channels);
  // Integer sums are exact: 2^64 / 255^2 leaves room for ~2.8e14 pixels.
  std::vector<std::uint64_t> sum(c, 0), sum_sq(c, 0);
  for (std::size_t i = 0; i < train.images.size(); ++i) {
    const std::uint64_t v = train.images[i];
    sum[i % c] += v;
    sum_sq[i % c] += v * v;
  }
  const double count = static_cast<double>(train.images.size() / c);
  Normalization n;
  for (std::size_t k = 0; k < c; ++k) {
    const double mean = static_cast<double>(sum[k]) / count / 255.0;
    const double var = static_cast<double>(sum_sq[k]) / count / (255.0 * 255.0) - mean * mean;
    n.mean.push_back(static_cast<float>(mean));
    // A constant channel would divide by zero; leave it unscaled instead.
    n.stddev.push_back(var > 1e-12 ? static_cast<float>(std::sqrt(var)) : 1.0f);
  }
  return n;
}

ChannelAffine channel_affine(const Normalization& norm, int channels, const std::string& where) {
  if (channels > kMaxChannels) fail(where, "at most " + std::to_string(kMaxChannels) + " channels");
  if (norm.channels() != channels)
    fail(where, "normalization has " + std::to_string(norm.channels()) + " channels, image " +
                    std::to_string(channels));
  ChannelAffine a;
  for (int k = 0; k < channels; ++k) {
    a.scale[k] = norm.scale(k);
    a.bias[k] = norm.bias(k);
  }
  return a;
}

void normalize_image(const std::uint8_t* src, float* dst, std::size_t pixels,
                     const Normalization& norm) {
  const int c = norm.channels();
  if (c < 1 || c > kMaxChannels) fail("normalize_image", "unsupported channel count " + std::to_string(c));
  float scale[kMaxChannels], bias[kMaxChannels];
  for (int k = 0; k < c; ++k) {
    scale[k] = norm.scale(k);
    bias[k] = norm.bias(k);
  }
  if (c == 3) {  // the common case, unrolled so the compiler vectorises it
    for (std::size_t p = 0; p < pixels; ++p, src += 3, dst += 3) {
      dst[0] = src[0] * scale[0] + bias[0];
      dst[1] = src[1] * scale[1] + bias[1];
      dst[2] = src[2] * scale[2] + bias[2];
    }
    return;
  }
  for (std::size_t p = 0; p < pixels; ++p)
    for (int k = 0; k < c; ++k, ++src, ++dst) *dst = *src * scale[k] + bias[k];
}

}  // namespace rf::data
