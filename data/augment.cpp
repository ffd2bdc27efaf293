#include "data/augment.h"

#include "data/bytes.h"
#include "kernels/augment_math.h"
#include "kernels/cpu/augment_image.h"

namespace rf::data {

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
  return augment::draw_keras_params(a, height, width, rng);
}

CropParams draw_crop_params(const CropFlipAugment& a, Rng& rng) {
  return augment::draw_crop_params(a, rng);
}

void augment_sample(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
                    const SampleKey& key, std::uint8_t* dst) {
  cpu::augment_image(config, src, h, w, c, key, dst);
}

void augment_sample(const AugmentConfig& config, const std::uint8_t* src, int h, int w, int c,
                    const SampleKey& key, const Normalization& norm, float* dst) {
  cpu::augment_image(config, src, h, w, c, key, channel_affine(norm, c, "augment"), dst);
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
