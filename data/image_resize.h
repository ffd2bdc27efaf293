#pragma once
// Resizing uint8 images (NHWC, any channel count) to a model's or a dataset's input size.
//
// The filter is a triangle (bilinear) kernel whose support widens with the downscale factor, as
// Pillow's Image.resize(BILINEAR) and torchvision's antialiased resize do: output pixel o of an
// axis sampled from n_in to n_out pixels is centred at c = (o + 0.5) * s in input coordinates
// (s = n_in / n_out); input pixel i weighs max(0, 1 - |i + 0.5 - c| / max(s, 1)), the weights
// normalized to sum 1 (taps outside the image are dropped). Upscaling is plain bilinear
// interpolation with edges clamped; downscaling averages every input pixel under the kernel, so
// no detail aliases; the same size is the identity. Rows first, then columns (the kernel is
// separable), in float, rounded to the nearest uint8 at the end.
#include <cstdint>
#include <string>
#include <vector>

namespace rf::data {

struct ImageSize {
  int height = 0;
  int width = 0;
  bool operator==(const ImageSize&) const = default;
};

// "HxW" (height first, as --image-size takes it), e.g. "32x28" for 32 rows of 28 pixels.
std::string size_text(ImageSize s);

// `src` holds height x width x channels values; returns size.height x size.width x channels.
std::vector<std::uint8_t> resize_image(const std::uint8_t* src, ImageSize from, int channels,
                                       ImageSize to);

}  // namespace rf::data
