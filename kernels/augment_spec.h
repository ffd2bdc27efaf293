#pragma once
// What a training image's augmentation is, as plain values that the CPU kernels, the CUDA kernels
// and the data loader all take (data::AugmentConfig adds the presets). The transforms themselves
// are described in data/augment.h; their arithmetic is kernels/augment_math.h.
#include <cstdint>

#include "kernels/host_device.h"

namespace rf {

// Images with more channels than this (RGBA at most) are not produced by any reader.
inline constexpr int kMaxChannels = 4;

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

struct AugmentSpec {
  AugmentKind kind = AugmentKind::None;
  KerasAugment keras;
  CropFlipAugment crop;
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

// Crop window origin in the padded image, each in [0, 2 * pad]; (pad, pad) is the original.
struct CropParams {
  int dy = 0;
  int dx = 0;
  bool flip = false;
};

// A sample's random stream is KeyedRng(seed, epoch, index).
struct SampleKey {
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
  std::uint64_t index = 0;  // the sample's position in its dataset
};

// Per-channel normalization in the form the loops use: out = px * scale[k] + bias[k].
struct ChannelAffine {
  float scale[kMaxChannels] = {};
  float bias[kMaxChannels] = {};
};

// A batch of augmented, normalized images made from a uint8 NHWC image set of `count` images of
// h x w x c: sample i is image indices[i] under KeyedRng(seed, epoch, indices[i]).
struct AugmentBatch {
  int64_t count = 0;
  int h = 0, w = 0, c = 0;
  int64_t n = 0;  // samples in the batch
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
  AugmentSpec spec;
  ChannelAffine norm;
  RF_HOST_DEVICE int64_t image_bytes() const { return int64_t(h) * w * c; }
};

}  // namespace rf
