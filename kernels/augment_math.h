#pragma once
// The arithmetic of the augmentations (data/augment.h describes them), written once for the CPU
// loops (kernels/cpu/augment_image.cpp) and the CUDA kernel (kernels/cuda/augment.cu): drawing a
// sample's parameters from its key, and mapping one output pixel to its source.
//
// Bitwise agreement between the two needs the same IEEE operations in the same order, so both
// translation units are compiled without contracting a * b + c into fused multiply-adds
// (-ffp-contract=off, --fmad=false). What remains different is sinf/cosf of the rotation angle:
// CUDA's and the C library's may differ in the last bit.
#include <math.h>

#include <cstdint>

#include "kernels/augment_spec.h"
#include "kernels/host_device.h"
#include "kernels/keyed_rng.h"

namespace rf::augment {

// std::clamp's semantics; std::clamp itself is not callable on the GPU.
RF_HOST_DEVICE inline float clamp(float v, float lo, float hi) {
  return v < lo ? lo : (hi < v ? hi : v);
}

RF_HOST_DEVICE inline KerasParams draw_keras_params(const KerasAugment& a, int height, int width,
                                                    KeyedRng& rng) {
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

RF_HOST_DEVICE inline CropParams draw_crop_params(const CropFlipAugment& a, KeyedRng& rng) {
  CropParams p;
  p.dy = static_cast<int>(rng.below(static_cast<std::uint64_t>(2 * a.pad + 1)));
  p.dx = static_cast<int>(rng.below(static_cast<std::uint64_t>(2 * a.pad + 1)));
  p.flip = rng.coin() && a.horizontal_flip;
  return p;
}

// A Keras transform as the affine map from output pixel (r, j) to input coordinates:
//   center + R(theta) * (Z * ((r, j) - center) + (tx, ty)).
// No member initializers: the CUDA kernel keeps one in shared memory.
struct WarpMap {
  float m00, m01, m10, m11, t0, t1;
  float cr, cc;        // the center
  float max_r, max_c;  // the last row and column: "nearest" fill clamps to them
  int h, w;
  bool flip;
};

RF_HOST_DEVICE inline WarpMap warp_map(const KerasParams& p, int h, int w) {
  constexpr float kPi = 3.14159265358979323846f;
  const float theta = p.theta_deg * kPi / 180.0f;
  const float cs = cosf(theta), sn = sinf(theta);
  WarpMap m;
  m.m00 = cs * p.zx;
  m.m01 = -sn * p.zy;
  m.m10 = sn * p.zx;
  m.m11 = cs * p.zy;
  m.t0 = cs * p.tx - sn * p.ty;
  m.t1 = sn * p.tx + cs * p.ty;
  m.cr = 0.5f * static_cast<float>(h - 1);
  m.cc = 0.5f * static_cast<float>(w - 1);
  m.max_r = static_cast<float>(h - 1);
  m.max_c = static_cast<float>(w - 1);
  m.h = h;
  m.w = w;
  m.flip = p.flip;
  return m;
}

// The four source pixels (row-major pixel numbers) and bilinear weights of one output pixel.
struct BilinearTap {
  int p00, p01, p10, p11;
  float w00, w01, w10, w11;
};

RF_HOST_DEVICE inline BilinearTap warp_tap(const WarpMap& m, int r, int j) {
  const float dr = static_cast<float>(r) - m.cr;
  const float dc = static_cast<float>(m.flip ? m.w - 1 - j : j) - m.cc;
  const float ir = clamp(m.cr + m.m00 * dr + m.m01 * dc + m.t0, 0.0f, m.max_r);
  const float ic = clamp(m.cc + m.m10 * dr + m.m11 * dc + m.t1, 0.0f, m.max_c);
  const int r0 = static_cast<int>(ir), c0 = static_cast<int>(ic);
  const float fr = ir - static_cast<float>(r0), fc = ic - static_cast<float>(c0);
  const int r1 = r0 + 1 < m.h ? r0 + 1 : m.h - 1;
  const int c1 = c0 + 1 < m.w ? c0 + 1 : m.w - 1;
  BilinearTap t;
  t.p00 = r0 * m.w + c0;
  t.p01 = r0 * m.w + c1;
  t.p10 = r1 * m.w + c0;
  t.p11 = r1 * m.w + c1;
  t.w00 = (1 - fr) * (1 - fc);
  t.w01 = (1 - fr) * fc;
  t.w10 = fr * (1 - fc);
  t.w11 = fr * fc;
  return t;
}

// Channel k of the tap's interpolated value in an image of c channels.
RF_HOST_DEVICE inline float bilinear(const BilinearTap& t, const std::uint8_t* src, int c, int k) {
  return t.w00 * src[t.p00 * c + k] + t.w01 * src[t.p01 * c + k] + t.w10 * src[t.p10 * c + k] +
         t.w11 * src[t.p11 * c + k];
}

// The source pixel of output pixel (r, j) under a pad-crop-flip, or -1 in the zero padding.
RF_HOST_DEVICE inline int crop_source(const CropParams& p, int pad, int h, int w, int r, int j) {
  const int sr = r + p.dy - pad;
  const int sc = (p.flip ? w - 1 - j : j) + p.dx - pad;
  return sr >= 0 && sr < h && sc >= 0 && sc < w ? sr * w + sc : -1;
}

RF_HOST_DEVICE inline float normalize(float v, const ChannelAffine& a, int k) {
  return v * a.scale[k] + a.bias[k];
}

}  // namespace rf::augment
