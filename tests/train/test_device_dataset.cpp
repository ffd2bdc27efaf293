// DeviceDataset on the CPU backend: make_batch, fed by an indices-only loader, is the host
// loader's batch bitwise (images and targets, soft or one-hot) for every augmentation kind; bad
// indices and mismatched soft labels are clear errors.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "data/loader.h"
#include "tests/data_ops_cases.h"
#include "train/device_dataset.h"

using namespace rf;

namespace {

bool same_bits(const Tensor& t, const float* want, size_t n) {
  const std::vector<float> got = t.to_host();
  return got.size() == n && std::memcmp(got.data(), want, n * sizeof(float)) == 0;
}

data::SoftLabels soft_labels(const data::Dataset& d) {
  data::SoftLabels s = data::one_hot(d.labels, d.num_classes());
  for (size_t i = 0; i < s.rows; ++i)
    for (int k = 0; k < s.classes; ++k)
      s.values[i * size_t(s.classes) + size_t(k)] = k == d.labels[i] ? 0.7f : 0.3f / float(s.classes - 1);
  return s;
}

}  // namespace

TEST_CASE("device dataset (cpu): make_batch is the loader's batch, bitwise") {
  struct ImageShape {
    int h, w, c;
  };
  for (const ImageShape s : {ImageShape{9, 11, 3}, ImageShape{6, 5, 1}}) {
    const data::Dataset d = test::random_dataset(37, s.h, s.w, s.c, 4, uint64_t(s.c));
    const data::SoftLabels soft = soft_labels(d);
    for (const test::AugmentCase& k : test::augment_cases())
      for (const bool with_soft : {false, true})
        for (const bool identity : {false, true}) {
          CAPTURE(k.name);
          CAPTURE(s.c);
          CAPTURE(with_soft);
          data::LoaderOptions o;
          o.batch_size = 8;  // 37 = 4 x 8 + a partial batch of 5
          o.seed = 5;
          o.workers = 0;
          o.augment = k.config;
          if (!identity) o.normalization = test::test_normalization(s.c);
          const data::SoftLabels* sl = with_soft ? &soft : nullptr;
          data::Loader host(d, o, sl);
          o.indices_only = true;
          data::Loader order(d, o, sl);
          const train::DeviceDataset device(d, o, Device::CPU, sl);
          CHECK(device.size() == 37);
          for (const uint64_t epoch : {0u, 2u}) {
            host.start_epoch(epoch);
            order.start_epoch(epoch);
            while (const data::BatchPtr want = host.next()) {
              const data::BatchPtr b = order.next();
              REQUIRE(b);
              const train::DeviceBatch got = device.make_batch(b->indices, b->epoch);
              REQUIRE(got.images.shape() == Shape{int64_t(want->size), s.h, s.w, s.c});
              REQUIRE(got.targets.shape() == Shape{int64_t(want->size), 4});
              REQUIRE(same_bits(got.images, want->images, want->image_floats()));
              REQUIRE(same_bits(got.targets, want->soft_targets, want->size * 4));
            }
          }
        }
  }
}

TEST_CASE("device dataset (cpu): indices out of order and repeated; another epoch differs") {
  const data::Dataset d = test::random_dataset(10, 8, 8, 3, 3, 1);
  data::LoaderOptions o;
  o.augment = data::AugmentConfig::blog(true);
  o.seed = 9;
  const train::DeviceDataset device(d, o, Device::CPU);
  const std::vector<size_t> indices = {9, 2, 9, 0};
  const train::DeviceBatch b = device.make_batch(indices, 3);
  const std::vector<float> images = b.images.to_host(), targets = b.targets.to_host();
  std::vector<float> want(d.sample_bytes());
  for (size_t i = 0; i < indices.size(); ++i) {
    data::augment_sample(o.augment, d.image(indices[i]), 8, 8, 3, {9, 3, indices[i]},
                         data::Normalization::identity(3), want.data());
    CHECK(std::memcmp(want.data(), images.data() + i * want.size(), want.size() * 4) == 0);
    for (int k = 0; k < 3; ++k)
      CHECK(targets[i * 3 + size_t(k)] == (k == d.labels[indices[i]] ? 1.f : 0.f));
  }
  CHECK(device.make_batch(indices, 4).images.to_host() != images);
}

TEST_CASE("device dataset (cpu): bad indices and mismatched inputs are clear errors") {
  const data::Dataset d = test::random_dataset(10, 4, 4, 3, 3, 1);
  const train::DeviceDataset device(d, data::LoaderOptions{}, Device::CPU);
  CHECK_THROWS_WITH(device.make_batch(std::vector<size_t>{1, 10}, 0),
                    doctest::Contains("random: sample index 10 (batch position 1) is outside its "
                                      "10 samples"));
  CHECK_THROWS_WITH(device.make_batch(std::vector<size_t>{}, 0),
                    doctest::Contains("an empty batch"));
  const data::SoftLabels wrong = data::one_hot(std::vector<std::int32_t>{0, 1}, 3);
  CHECK_THROWS_WITH(train::DeviceDataset(d, data::LoaderOptions{}, Device::CPU, &wrong),
                    doctest::Contains("soft labels are 2 x 3, dataset has 10 samples"));
  data::LoaderOptions gray;
  gray.normalization = data::Normalization::identity(1);
  CHECK_THROWS_WITH(train::DeviceDataset(d, gray, Device::CPU),
                    doctest::Contains("normalization has 1 channels, image 3"));
}
