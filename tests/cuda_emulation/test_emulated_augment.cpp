// The augmentation kernel (kernels/cuda/augment.cu) run on the host emulation of CUDA and compared
// with its CPU twin (kernels/cpu/augment.h) for the same images, seeds and keys.
//
// Tolerance: none, bitwise. On a GPU (test_cuda_data_ops.cpp) a Keras warp may be 1 grey level
// off on 0.1% of values because CUDA's sinf/cosf may differ from the C library's in the last bit;
// here both sides call the host's sinf/cosf and run the same IEEE operations of
// kernels/augment_math.h without contraction, so any difference is the kernel's own.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cuda_emulation/emulated_case.h"
#include "kernels/cpu/augment.h"
#include "kernels/cuda/augment.cuh"

using namespace rf;
using test::DeviceBuffer;

namespace {

struct AugmentCase {
  const char* name;
  AugmentSpec spec;
};

std::vector<AugmentCase> augment_cases() {
  const KerasAugment blog{10.f, 0.1f, 0.1f, 0.1f, true};  // 10 degrees, 10% zoom and shifts
  KerasAugment blog_noflip = blog;
  blog_noflip.horizontal_flip = false;
  // Shifts and zooms that reach far outside the image, where "nearest" fill clamps.
  const KerasAugment wide{45.f, 0.4f, 0.3f, 0.25f, true};
  return {{"none", {}},
          {"keras", {AugmentKind::Keras, blog, {}}},
          {"keras-noflip", {AugmentKind::Keras, blog_noflip, {}}},
          {"keras-wide", {AugmentKind::Keras, wide, {}}},
          {"cropflip", {AugmentKind::CropFlip, {}, {4, true}}},
          {"crop-noflip", {AugmentKind::CropFlip, {}, {2, false}}},
          // Crops that are half padding.
          {"cropflip-pad9", {AugmentKind::CropFlip, {}, {9, true}}}};
}

// Not square, so a swapped height and width shows; more pixels than a block has threads, so
// each thread strides over several.
constexpr int kCount = 10, kH = 18, kW = 25;

AugmentBatch batch_of(const AugmentSpec& spec, int c, int64_t n, uint64_t epoch) {
  AugmentBatch a;
  a.count = kCount;
  a.h = kH;
  a.w = kW;
  a.c = c;
  a.n = n;
  a.seed = 3;
  a.epoch = epoch;
  a.spec = spec;
  // Scales and biases unlike each other, so a channel mix-up shows.
  for (int k = 0; k < c; ++k) {
    const float stddev = 0.17f + 0.05f * float(k), mean = 0.3f + 0.11f * float(k);
    a.norm.scale[k] = 1.f / (255.f * stddev);
    a.norm.bias[k] = -mean / stddev;
  }
  return a;
}

std::vector<std::uint8_t> random_images(int c) {
  std::mt19937 rng(uint32_t(17 + c));
  std::vector<std::uint8_t> v(size_t(kCount) * kH * kW * size_t(c));
  for (std::uint8_t& px : v) px = std::uint8_t(rng());
  return v;
}

// The batch from the emulated kernel, on exact-size buffers; the output starts as NaN so that an
// element it never writes differs from the twin's.
std::vector<float> emulated(const AugmentBatch& a, const std::vector<std::uint8_t>& images,
                            const std::vector<int64_t>& indices) {
  DeviceBuffer<std::uint8_t> dev_images(images.size());
  dev_images.assign(images);
  DeviceBuffer<int64_t> dev_indices(indices.size());
  dev_indices.assign(indices);
  DeviceBuffer<float> out(size_t(a.n * a.image_bytes()));
  std::fill(out.data(), out.data() + out.size(), NAN);
  gpu::augment_batch(a, dev_images.data(), dev_indices.data(), out.data(), nullptr);
  return out.to_vector();
}

std::vector<float> cpu_twin(const AugmentBatch& a, const std::vector<std::uint8_t>& images,
                            const std::vector<int64_t>& indices) {
  std::vector<float> out(size_t(a.n * a.image_bytes()));
  cpu::augment_batch(a, images.data(), indices.data(), out.data());
  return out;
}

// The first of `count` values from got[got_at] and want[want_at] whose bits differ, or -1.
int64_t first_difference(const std::vector<float>& got, size_t got_at,
                         const std::vector<float>& want, size_t want_at, size_t count) {
  REQUIRE(got_at + count <= got.size());
  REQUIRE(want_at + count <= want.size());
  for (size_t i = 0; i < count; ++i)
    if (std::memcmp(&got[got_at + i], &want[want_at + i], sizeof(float)) != 0) return int64_t(i);
  return -1;
}

}  // namespace

TEST_CASE("cuda emulated augment_batch: none, Keras and crop-flip batches equal the CPU twin "
          "bitwise") {
  // Repeated indices: a sample's key is its image's index, not its place in the batch.
  const std::vector<int64_t> indices = {3, 7, 0, 9, 3, 5, 1, 8, 2};
  for (const int c : {3, 1})
    for (const AugmentCase& k : augment_cases())
      for (const uint64_t epoch : {0u, 7u}) {
        CAPTURE(c);
        INFO(k.name);
        CAPTURE(epoch);
        const std::vector<std::uint8_t> images = random_images(c);
        const AugmentBatch a = batch_of(k.spec, c, int64_t(indices.size()), epoch);
        const std::vector<float> got = emulated(a, images, indices);
        CHECK(first_difference(got, 0, cpu_twin(a, images, indices), 0, got.size()) == -1);
      }
}

TEST_CASE("cuda emulated augment_batch: a sample whose index is out of range is NaN; the others "
          "match the CPU twin") {
  const std::vector<int64_t> indices = {2, -1, kCount, 5, 2};
  const std::vector<int64_t> valid = {2, 5, 2};  // the samples at 0, 3 and 4
  const int c = 3;
  const std::vector<std::uint8_t> images = random_images(c);
  for (const AugmentCase& k : augment_cases()) {
    INFO(k.name);
    const AugmentBatch a = batch_of(k.spec, c, int64_t(indices.size()), 1);
    const std::vector<float> got = emulated(a, images, indices);
    const std::vector<float> want = cpu_twin(batch_of(k.spec, c, 3, 1), images, valid);
    const size_t bytes = size_t(a.image_bytes());
    CHECK(first_difference(got, 0, want, 0, bytes) == -1);
    CHECK(first_difference(got, 3 * bytes, want, bytes, 2 * bytes) == -1);
    for (size_t i = bytes; i < 3 * bytes; ++i) REQUIRE(std::isnan(got[i]));
  }
}
