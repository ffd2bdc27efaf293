#pragma once
// Data augmentation on uint8 NHWC images, deterministic per (seed, epoch, sample).
//
// Keras-style (ImageDataGenerator semantics): rotation by U(-deg, deg), zoom factors zx, zy each
// U(1 - z, 1 + z) (> 1 zooms out), shifts U(-f, f) * size in pixels, then an optional horizontal
// flip with probability 1/2. As in Keras the output pixel (r, c) samples the input at
//   center + R(theta) * (Z * ((r, c) - center) + (tx, ty))
// with bilinear interpolation and "nearest" fill (coordinates clamped to the border).
// Standard CIFAR: zero-pad by `pad`, take a random crop of the original size, flip with p = 1/2.
//
// Each transform writes either uint8 (rounded; used by the static mode, whose copies are stored
// as a Dataset) or normalized float (used by the loader, so warp and normalization are one pass).

#include <cstdint>

#include "data/dataset.h"
#include "data/normalize.h"
#include "data/rng.h"

namespace rf::data {

struct KerasAugment {
  float rotation_deg = 0.0f;
  float zoom = 0.0f;          // zoom range z: factors in [1 - z, 1 + z]
  float width_shift = 0.0f;   // fraction of the width
  float height_shift = 0.0f;  // fraction of the height
  bool horizontal_flip = false;
};

struct CropFlipAugment {
  int pad = 4;
  bool horizontal_flip = true;
};

enum class AugmentKind { None, Keras, CropFlip };

struct AugmentConfig {
  AugmentKind kind = AugmentKind::None;
  KerasAugment keras;
  CropFlipAugment crop;

  // The blog's settings: 10 degrees, 10% zoom, 10% shifts; flip only for CIFAR-10.
  static AugmentConfig blog(bool horizontal_flip);
  static AugmentConfig pad_crop_flip(int pad = 4);
};

// One sample's Keras transform. tx shifts along rows, ty along columns (Keras' naming), in pixels.
struct KerasParams {
  float theta_deg = 0.0f;
  float tx = 0.0f;
  float ty = 0.0f;
  float zx = 1.0f;
  float zy = 1.0f;
  bool flip = false;
};
KerasParams draw_keras_params(const KerasAugment& a, int height, int width, Rng& rng);

// Crop window origin in the padded image, each in [0, 2 * pad]; (pad, pad) is the original.
struct CropParams {
  int dy = 0;
  int dx = 0;
  bool flip = false;
};
CropParams draw_crop_params(const CropFlipAugment& a, Rng& rng);

void warp_image(const std::uint8_t* src, int h, int w, int c, const KerasParams& p, std::uint8_t* dst);
void warp_image(const std::uint8_t* src, int h, int w, int c, const KerasParams& p,
                const Normalization& norm, float* dst);
void crop_flip_image(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
                     std::uint8_t* dst);
void crop_flip_image(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
                     const Normalization& norm, float* dst);

struct SampleKey {
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
  std::uint64_t index = 0;  // the sample's position in its dataset
};

// Draws the sample's parameters from Rng(key) and applies `config` (None = plain copy).
void augment_sample(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
                    const SampleKey& key, std::uint8_t* dst);
void augment_sample(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
                    const SampleKey& key, const Normalization& norm, float* dst);

// The blog's static mode: `d` followed by `copies` augmented copies of it (copy k uses epoch k).
Dataset append_augmented_copies(const Dataset& d, const AugmentConfig& config, int copies,
                                std::uint64_t seed);

}  // namespace rf::data
