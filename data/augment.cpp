#include "data/augment.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "data/bytes.h"

namespace rf::data {

namespace {

struct FloatSink {
  float* dst;
  float scale[kMaxChannels];
  float bias[kMaxChannels];
  FloatSink(float* d, const Normalization& n, int c) : dst(d) {
    if (c > kMaxChannels) fail("augment", "at most " + std::to_string(kMaxChannels) + " channels");
    if (n.channels() != c)
      fail("augment", "normalization has " + std::to_string(n.channels()) + " channels, image " +
                          std::to_string(c));
    for (int k = 0; k < c; ++k) {
      scale[k] = n.scale(k);
      bias[k] = n.bias(k);
    }
  }
  // i is the flat NHWC element index; k its channel.
  void put(std::size_t i, int k, float v) const { dst[i] = v * scale[k] + bias[k]; }
};

template <class Put>
void warp(const std::uint8_t* src, int h, int w, int c, const KerasParams& p, Put put) {
  const float theta = p.theta_deg * std::numbers::pi_v<float> / 180.0f;
  const float cs = std::cos(theta), sn = std::sin(theta);
  const float m00 = cs * p.zx, m01 = -sn * p.zy, m10 = sn * p.zx, m11 = cs * p.zy;
  const float t0 = cs * p.tx - sn * p.ty, t1 = sn * p.tx + cs * p.ty;
  const float cr = 0.5f * static_cast<float>(h - 1), cc = 0.5f * static_cast<float>(w - 1);
  const float max_r = static_cast<float>(h - 1), max_c = static_cast<float>(w - 1);
  const auto row_stride = static_cast<std::size_t>(w) * static_cast<std::size_t>(c);
  std::size_t out = 0;
  for (int r = 0; r < h; ++r) {
    const float dr = static_cast<float>(r) - cr;
    for (int j = 0; j < w; ++j) {
      const float dc = static_cast<float>(p.flip ? w - 1 - j : j) - cc;
      const float ir = std::clamp(cr + m00 * dr + m01 * dc + t0, 0.0f, max_r);
      const float ic = std::clamp(cc + m10 * dr + m11 * dc + t1, 0.0f, max_c);
      const int r0 = static_cast<int>(ir), c0 = static_cast<int>(ic);
      const float fr = ir - static_cast<float>(r0), fc = ic - static_cast<float>(c0);
      const int r1 = std::min(r0 + 1, h - 1), c1 = std::min(c0 + 1, w - 1);
      const std::uint8_t* p00 = src + r0 * row_stride + static_cast<std::size_t>(c0 * c);
      const std::uint8_t* p01 = src + r0 * row_stride + static_cast<std::size_t>(c1 * c);
      const std::uint8_t* p10 = src + r1 * row_stride + static_cast<std::size_t>(c0 * c);
      const std::uint8_t* p11 = src + r1 * row_stride + static_cast<std::size_t>(c1 * c);
      const float w00 = (1 - fr) * (1 - fc), w01 = (1 - fr) * fc, w10 = fr * (1 - fc), w11 = fr * fc;
      for (int k = 0; k < c; ++k, ++out)
        put(out, k, w00 * p00[k] + w01 * p01[k] + w10 * p10[k] + w11 * p11[k]);
    }
  }
}

template <class Put>
void crop_flip(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p, Put put) {
  std::size_t out = 0;
  for (int r = 0; r < h; ++r) {
    const int sr = r + p.dy - pad;
    for (int j = 0; j < w; ++j) {
      const int sc = (p.flip ? w - 1 - j : j) + p.dx - pad;
      const bool inside = sr >= 0 && sr < h && sc >= 0 && sc < w;
      const std::uint8_t* px =
          inside ? src + (static_cast<std::size_t>(sr) * static_cast<std::size_t>(w) +
                          static_cast<std::size_t>(sc)) * static_cast<std::size_t>(c)
                 : nullptr;
      for (int k = 0; k < c; ++k, ++out) put(out, k, inside ? static_cast<float>(px[k]) : 0.0f);
    }
  }
}

auto u8_put(std::uint8_t* dst) {
  return [dst](std::size_t i, int, float v) {
    dst[i] = static_cast<std::uint8_t>(std::clamp(v + 0.5f, 0.0f, 255.0f));
  };
}
auto float_put(const FloatSink& s) {
  return [&s](std::size_t i, int k, float v) { s.put(i, k, v); };
}

template <class Put>
void apply(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
           const SampleKey& key, Put put) {
  Rng rng(key.seed, key.epoch, key.index);
  switch (config.kind) {
    case AugmentKind::None:
      for (std::size_t i = 0, n = static_cast<std::size_t>(h) * w * c; i < n; ++i)
        put(i, static_cast<int>(i % static_cast<std::size_t>(c)), static_cast<float>(src[i]));
      return;
    case AugmentKind::Keras:
      warp(src, h, w, c, draw_keras_params(config.keras, h, w, rng), put);
      return;
    case AugmentKind::CropFlip:
      crop_flip(src, h, w, c, config.crop.pad, draw_crop_params(config.crop, rng), put);
      return;
  }
}

}  // namespace

AugmentConfig AugmentConfig::blog(bool horizontal_flip) {
  AugmentConfig a;
  a.kind = AugmentKind::Keras;
  a.keras = {10.0f, 0.1f, 0.1f, 0.1f, horizontal_flip};
  return a;
}

AugmentConfig AugmentConfig::pad_crop_flip(int pad) {
  AugmentConfig a;
  a.kind = AugmentKind::CropFlip;
  a.crop = {pad, true};
  return a;
}

KerasParams draw_keras_params(const KerasAugment& a, int height, int width, Rng& rng) {
  KerasParams p;
  // Drawn unconditionally so that each parameter's random stream does not depend on which
  // other ranges are zero.
  p.theta_deg = rng.uniform(-a.rotation_deg, a.rotation_deg);
  p.tx = rng.uniform(-a.height_shift, a.height_shift) * static_cast<float>(height);
  p.ty = rng.uniform(-a.width_shift, a.width_shift) * static_cast<float>(width);
  p.zx = rng.uniform(1.0f - a.zoom, 1.0f + a.zoom);
  p.zy = rng.uniform(1.0f - a.zoom, 1.0f + a.zoom);
  p.flip = rng.coin() && a.horizontal_flip;
  return p;
}

CropParams draw_crop_params(const CropFlipAugment& a, Rng& rng) {
  CropParams p;
  p.dy = static_cast<int>(rng.below(static_cast<std::uint64_t>(2 * a.pad + 1)));
  p.dx = static_cast<int>(rng.below(static_cast<std::uint64_t>(2 * a.pad + 1)));
  p.flip = rng.coin() && a.horizontal_flip;
  return p;
}

void warp_image(const std::uint8_t* src, int h, int w, int c, const KerasParams& p, std::uint8_t* dst) {
  warp(src, h, w, c, p, u8_put(dst));
}

void warp_image(const std::uint8_t* src, int h, int w, int c, const KerasParams& p,
                const Normalization& norm, float* dst) {
  const FloatSink sink(dst, norm, c);
  warp(src, h, w, c, p, float_put(sink));
}

void crop_flip_image(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
                     std::uint8_t* dst) {
  crop_flip(src, h, w, c, pad, p, u8_put(dst));
}

void crop_flip_image(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
                     const Normalization& norm, float* dst) {
  const FloatSink sink(dst, norm, c);
  crop_flip(src, h, w, c, pad, p, float_put(sink));
}

void augment_sample(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
                    const SampleKey& key, std::uint8_t* dst) {
  apply(config, src, h, w, c, key, u8_put(dst));
}

void augment_sample(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
                    const SampleKey& key, const Normalization& norm, float* dst) {
  const FloatSink sink(dst, norm, c);
  apply(config, src, h, w, c, key, float_put(sink));
}

Dataset append_augmented_copies(const Dataset& d, const AugmentConfig& config, int copies,
                                std::uint64_t seed) {
  if (copies < 0) fail(d.name, "negative number of augmented copies");
  Dataset out = d;
  const std::size_t n = d.size(), sb = d.sample_bytes();
  out.images.resize(n * sb * static_cast<std::size_t>(copies + 1));
  for (int k = 1; k <= copies; ++k) {
    out.labels.insert(out.labels.end(), d.labels.begin(), d.labels.end());
    for (std::size_t i = 0; i < n; ++i)
      augment_sample(config, d.image(i), d.height, d.width, d.channels,
                     {seed, static_cast<std::uint64_t>(k), i},
                     out.images.data() + (static_cast<std::size_t>(k) * n + i) * sb);
  }
  return out;
}

}  // namespace rf::data
