// Augmentation properties: identities, determinism, and exact pixel motion of shifts/rotations.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "data/augment.h"
#include "data/normalize.h"
#include "kernels/cpu/augment_image.h"

using namespace rf::data;

namespace {

using Image = std::vector<std::uint8_t>;

// Distinct values per (row, col, channel) so any misplacement shows.
Image make_image(int h, int w, int c) {
  Image img(static_cast<std::size_t>(h * w * c));
  for (int r = 0; r < h; ++r)
    for (int j = 0; j < w; ++j)
      for (int k = 0; k < c; ++k) img[static_cast<std::size_t>((r * w + j) * c + k)] = static_cast<std::uint8_t>(r * 20 + j * 3 + k * 100);
  return img;
}

std::uint8_t at(const Image& img, int w, int c, int r, int j, int k) {
  return img[static_cast<std::size_t>((r * w + j) * c + k)];
}

Image warp(const Image& src, int h, int w, int c, const KerasParams& p) {
  Image out(src.size());
  rf::cpu::warp_image(src.data(), h, w, c, p, out.data());
  return out;
}

Image crop(const Image& src, int h, int w, int c, int pad, const CropParams& p) {
  Image out(src.size());
  rf::cpu::crop_flip_image(src.data(), h, w, c, pad, p, out.data());
  return out;
}

}  // namespace

TEST_CASE("augment: zero rotation/shift/zoom is the identity, flipping twice is the identity") {
  const Image img = make_image(7, 5, 3);
  CHECK(warp(img, 7, 5, 3, KerasParams{}) == img);
  KerasParams flip;
  flip.flip = true;
  const Image once = warp(img, 7, 5, 3, flip);
  CHECK(once != img);
  CHECK(at(once, 5, 3, 2, 0, 1) == at(img, 5, 3, 2, 4, 1));
  CHECK(warp(once, 7, 5, 3, flip) == img);

  CHECK(crop(img, 7, 5, 3, 4, {4, 4, false}) == img);
  const Image cflip = crop(img, 7, 5, 3, 4, {4, 4, true});
  CHECK(crop(cflip, 7, 5, 3, 4, {4, 4, true}) == img);

  // All ranges zero: every drawn transform is the identity.
  AugmentConfig none_range;
  none_range.kind = AugmentKind::Keras;
  Image out(img.size());
  for (std::uint64_t i = 0; i < 20; ++i) {
    augment_sample(none_range, img.data(), 7, 5, 3, {1, 2, i}, out.data());
    REQUIRE(out == img);
  }
}

TEST_CASE("augment: shifts move content by the expected number of pixels, nearest fill at borders") {
  const int h = 8, w = 6, c = 3;
  const Image img = make_image(h, w, c);
  KerasParams down;
  down.tx = 3.0f;  // output row r samples input row r + 3: content moves up by 3
  const Image a = warp(img, h, w, c, down);
  for (int r = 0; r < h; ++r)
    for (int j = 0; j < w; ++j)
      for (int k = 0; k < c; ++k) REQUIRE(at(a, w, c, r, j, k) == at(img, w, c, std::min(r + 3, h - 1), j, k));
  KerasParams left;
  left.ty = -2.0f;  // output column j samples input column j - 2: content moves right by 2
  const Image b = warp(img, h, w, c, left);
  for (int r = 0; r < h; ++r)
    for (int j = 0; j < w; ++j)
      for (int k = 0; k < c; ++k) REQUIRE(at(b, w, c, r, j, k) == at(img, w, c, r, std::max(j - 2, 0), k));
  // Pad-crop: a window origin of (pad + 1, pad - 2) moves content up 1 and right 2, zero fill.
  const Image d = crop(img, h, w, c, 4, {5, 2, false});
  for (int r = 0; r < h; ++r)
    for (int j = 0; j < w; ++j)
      for (int k = 0; k < c; ++k) {
        const int sr = r + 1, sc = j - 2;
        const bool inside = sr < h && sc >= 0;
        REQUIRE(at(d, w, c, r, j, k) == (inside ? at(img, w, c, sr, sc, k) : 0));
      }
  // Half-pixel shift interpolates bilinearly between neighbours.
  KerasParams half;
  half.ty = 0.5f;
  const Image e = warp(img, h, w, c, half);
  CHECK(at(e, w, c, 1, 1, 0) == (at(img, w, c, 1, 1, 0) + at(img, w, c, 1, 2, 0) + 1) / 2);
}

TEST_CASE("augment: 90 degree rotation and 2x zoom map pixels as Keras does") {
  const int s = 5, c = 1;
  const Image img = make_image(s, s, c);
  KerasParams rot;
  rot.theta_deg = 90.0f;
  const Image r = warp(img, s, s, c, rot);
  for (int i = 0; i < s; ++i)
    for (int j = 0; j < s; ++j) REQUIRE(at(r, s, c, i, j, 0) == at(img, s, c, s - 1 - j, i, 0));
  KerasParams zoom;
  zoom.zx = zoom.zy = 2.0f;  // > 1 zooms out: output (r, j) samples input 2 (r, j) - 2
  const Image z = warp(img, s, s, c, zoom);
  for (int i = 0; i < s; ++i)
    for (int j = 0; j < s; ++j)
      REQUIRE(at(z, s, c, i, j, 0) == at(img, s, c, std::clamp(2 * i - 2, 0, s - 1), std::clamp(2 * j - 2, 0, s - 1), 0));
}

TEST_CASE("augment: deterministic per (seed, epoch, sample), different otherwise") {
  const Image img = make_image(32, 32, 3);
  for (const AugmentConfig& cfg : {AugmentConfig::blog(true), AugmentConfig::pad_crop_flip()}) {
    Image a(img.size()), b(img.size()), other(img.size());
    augment_sample(cfg, img.data(), 32, 32, 3, {7, 3, 11}, a.data());
    augment_sample(cfg, img.data(), 32, 32, 3, {7, 3, 11}, b.data());
    CHECK(a == b);
    int differing = 0;
    for (std::uint64_t e = 4; e < 12; ++e) {
      augment_sample(cfg, img.data(), 32, 32, 3, {7, e, 11}, other.data());
      differing += other != a;
    }
    CHECK(differing >= 6);
    augment_sample(cfg, img.data(), 32, 32, 3, {8, 3, 11}, other.data());
    CHECK(other != a);
  }
}

TEST_CASE("augment: drawn parameters stay in the configured ranges; flip only when enabled") {
  const KerasAugment blog = AugmentConfig::blog(true).keras;
  int flips = 0;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    Rng rng(5, 0, i);
    const KerasParams p = draw_keras_params(blog, 32, 32, rng);
    REQUIRE(std::abs(p.theta_deg) <= 10.0f);
    REQUIRE(std::abs(p.tx) <= 3.2f);
    REQUIRE(std::abs(p.ty) <= 3.2f);
    REQUIRE(p.zx >= 0.9f);
    REQUIRE(p.zx <= 1.1f);
    REQUIRE(p.zy >= 0.9f);
    REQUIRE(p.zy <= 1.1f);
    flips += p.flip;
    Rng rng2(5, 0, i);
    REQUIRE_FALSE(draw_keras_params(AugmentConfig::blog(false).keras, 32, 32, rng2).flip);
    Rng rng3(5, 1, i);
    const CropParams cp = draw_crop_params(CropFlipAugment{}, rng3);
    REQUIRE(cp.dy >= 0);
    REQUIRE(cp.dy <= 8);
    REQUIRE(cp.dx >= 0);
    REQUIRE(cp.dx <= 8);
  }
  CHECK(flips > 900);
  CHECK(flips < 1100);
}

TEST_CASE("augment: float output is the normalized uint8 result, in one pass") {
  const Image img = make_image(6, 6, 3);
  const Normalization norm{{0.5f, 0.4f, 0.3f}, {0.2f, 0.25f, 0.3f}};
  std::vector<float> f(img.size()), expect(img.size());
  augment_sample(AugmentConfig{}, img.data(), 6, 6, 3, {0, 0, 0}, norm, f.data());
  normalize_image(img.data(), expect.data(), 36, norm);
  for (std::size_t i = 0; i < f.size(); ++i) CHECK(f[i] == doctest::Approx(expect[i]));
  const Image flipped = crop(img, 6, 6, 3, 4, {4, 4, true});
  rf::cpu::crop_flip_image(img.data(), 6, 6, 3, 4, {4, 4, true}, channel_affine(norm, 3, "test"), f.data());
  normalize_image(flipped.data(), expect.data(), 36, norm);
  for (std::size_t i = 0; i < f.size(); ++i) CHECK(f[i] == doctest::Approx(expect[i]));
}

TEST_CASE("augment: static mode appends K deterministic augmented copies") {
  Dataset d;
  d.name = "toy";
  d.height = d.width = 8;
  d.channels = 3;
  d.classes = {"a", "b"};
  d.images = make_image(8, 8, 3);
  const Image second = make_image(8, 8, 3);
  d.images.insert(d.images.end(), second.rbegin(), second.rend());
  d.labels = {0, 1};
  const Dataset out = append_augmented_copies(d, AugmentConfig::blog(true), 3, 42);
  REQUIRE(out.size() == 8);
  CHECK(out.labels == std::vector<std::int32_t>{0, 1, 0, 1, 0, 1, 0, 1});
  CHECK(std::equal(d.images.begin(), d.images.end(), out.images.begin()));
  Image copy2(d.sample_bytes());
  augment_sample(AugmentConfig::blog(true), d.image(1), 8, 8, 3, {42, 2, 1}, copy2.data());
  CHECK(std::equal(copy2.begin(), copy2.end(), out.image(5)));
  CHECK(append_augmented_copies(d, AugmentConfig::blog(true), 3, 42).images == out.images);
}
