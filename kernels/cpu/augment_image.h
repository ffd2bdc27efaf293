#pragma once
// The augmentations of one uint8 NHWC image on the CPU (data/augment.h describes them), writing
// uint8 (rounded) or normalized float. The data loader (data/augment.cpp) and the CPU backend's
// augment_batch (kernels/cpu/augment.cpp) both call these, so both give the same bits; their
// arithmetic is kernels/augment_math.h, which the CUDA kernel shares.
#include <cstdint>

#include "kernels/augment_spec.h"

namespace rf::cpu {

void warp_image(const std::uint8_t* src, int h, int w, int c, const KerasParams& p,
                std::uint8_t* dst);
void warp_image(const std::uint8_t* src, int h, int w, int c, const KerasParams& p,
                const ChannelAffine& norm, float* dst);
void crop_flip_image(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
                     std::uint8_t* dst);
void crop_flip_image(const std::uint8_t* src, int h, int w, int c, int pad, const CropParams& p,
                     const ChannelAffine& norm, float* dst);

// Draws the sample's parameters from KeyedRng(key) and applies `spec` (None = plain copy).
void augment_image(const AugmentSpec& spec, const std::uint8_t* src, int h, int w, int c,
                   const SampleKey& key, std::uint8_t* dst);
void augment_image(const AugmentSpec& spec, const std::uint8_t* src, int h, int w, int c,
                   const SampleKey& key, const ChannelAffine& norm, float* dst);

}  // namespace rf::cpu
