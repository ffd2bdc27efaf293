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
// The work is done by kernels/cpu/augment_image.h, which the engine's CPU backend also calls and
// whose arithmetic the CUDA kernel shares (kernels/augment_math.h); the types are those of
// kernels/augment_spec.h.

#include <cstdint>

#include "data/dataset.h"
#include "data/normalize.h"
#include "data/rng.h"
#include "kernels/augment_spec.h"

namespace rf::data {

using ::rf::AugmentKind;
using ::rf::CropFlipAugment;
using ::rf::CropParams;
using ::rf::KerasAugment;
using ::rf::KerasParams;
using ::rf::SampleKey;

struct AugmentConfig : AugmentSpec {
  // The blog's settings: 10 degrees, 10% zoom, 10% shifts; flip only for CIFAR-10.
  static AugmentConfig blog(bool horizontal_flip);
  static AugmentConfig pad_crop_flip(int pad = 4);
};

KerasParams draw_keras_params(const KerasAugment& a, int height, int width, Rng& rng);
CropParams draw_crop_params(const CropFlipAugment& a, Rng& rng);

// Draws the sample's parameters from Rng(key) and applies `config` (None = plain copy).
void augment_sample(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
                    const SampleKey& key, std::uint8_t* dst);
void augment_sample(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
                    const SampleKey& key, const Normalization& norm, float* dst);

// The blog's static mode: `d` followed by `copies` augmented copies of it (copy k uses epoch k).
Dataset append_augmented_copies(const Dataset& d, const AugmentConfig& config, int copies,
                                std::uint64_t seed);

}  // namespace rf::data
