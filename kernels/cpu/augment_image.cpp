#include "kernels/cpu/augment_image.h"

#include <cstddef>

#include "kernels/augment_math.h"

namespace rf::cpu {
namespace {

// The loops below write through `put(i, k, v)`: flat NHWC element i, of channel k, value v on
// the 0..255 scale. One loop per transform serves both output types.
auto u8_put(std::uint8_t* dst) {
  return [dst](std::size_t i, int, float v) {
    dst[i] = static_cast<std::uint8_t>(augment::clamp(v + 0.5f, 0.0f, 255.0f));
  };
}
// The normalization is captured by value: a reference could alias dst and be reloaded per element.
auto float_put(const ChannelAffine& norm, float* dst) {
  return [norm, dst](std::size_t i, int k, float v) { dst[i] = augment::normalize(v, norm, k); };
}

template <class Put>
void copy(const std::uint8_t* src, int h, int w, int c, Put put) {
  for (std::size_t i = 0, n = static_cast<std::size_t>(h) * w * c; i < n; ++i)
    put(i, static_cast<int>(i % static_cast<std::size_t>(c)), static_cast<float>(src[i]));
}

template <class Put>
void warp(const std::uint8_t* src, int h, int w, int c, const KerasParams& p, Put put) {
  const augment::WarpMap m = augment::warp_map(p, h, w);
  std::size_t out = 0;
  for (int r = 0; r < h; ++r)
    for (int j = 0; j < w; ++j) {
      const augment::BilinearTap t = augment::warp_tap(m, r, j);
      for (int k = 0; k < c; ++k, ++out) put(out, k, augment::bilinear(t, src, c, k));
    }
}

template <class Put>
void crop_flip(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
               Put put) {
  std::size_t out = 0;
  for (int r = 0; r < h; ++r)
    for (int j = 0; j < w; ++j) {
      const int s = augment::crop_source(p, pad, h, w, r, j);
      for (int k = 0; k < c; ++k, ++out)
        put(out, k, s >= 0 ? static_cast<float>(src[static_cast<std::size_t>(s) * c + k]) : 0.0f);
    }
}

template <class Put>
void apply(const AugmentSpec& spec, const std::uint8_t* src, int h, int w, int c,
           const SampleKey& key, Put put) {
  KeyedRng rng(key.seed, key.epoch, key.index);
  switch (spec.kind) {
    case AugmentKind::None:
      copy(src, h, w, c, put);
      return;
    case AugmentKind::Keras:
      warp(src, h, w, c, augment::draw_keras_params(spec.keras, h, w, rng), put);
      return;
    case AugmentKind::CropFlip:
      crop_flip(src, h, w, c, spec.crop.pad, augment::draw_crop_params(spec.crop, rng), put);
      return;
  }
}

}  // namespace

void warp_image(const std::uint8_t* src, int h, int w, int c, const KerasParams& p,
                std::uint8_t* dst) {
  warp(src, h, w, c, p, u8_put(dst));
}

void warp_image(const std::uint8_t* src, int h, int w, int c, const KerasParams& p,
                const ChannelAffine& norm, float* dst) {
  warp(src, h, w, c, p, float_put(norm, dst));
}

void crop_flip_image(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
                     std::uint8_t* dst) {
  crop_flip(src, h, w, c, pad, p, u8_put(dst));
}

void crop_flip_image(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
                     const ChannelAffine& norm, float* dst) {
  crop_flip(src, h, w, c, pad, p, float_put(norm, dst));
}

void augment_image(const AugmentSpec& spec, const std::uint8_t* src, int h, int w, int c,
                   const SampleKey& key, std::uint8_t* dst) {
  apply(spec, src, h, w, c, key, u8_put(dst));
}

void augment_image(const AugmentSpec& spec, const std::uint8_t* src, int h, int w, int c,
                   const SampleKey& key, const ChannelAffine& norm, float* dst) {
  apply(spec, src, h, w, c, key, float_put(norm, dst));
}

}  // namespace rf::cpu
