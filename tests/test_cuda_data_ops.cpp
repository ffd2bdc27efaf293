// The CUDA data ops (kernels/cuda/augment.cu, gather.cu) against the CPU backend, and
// train::DeviceDataset on the GPU. Keras warps may differ where CUDA's sinf/cosf differ from the
// C library's in the last bit: the criterion is at most 1 grey level (|diff| * stddev * 255) on
// >= 99.9% of values, and the maximum and the fraction off are printed. None and crop-flip, the
// gathers and the upload must be bitwise. Runs only where a GPU is usable (gpu_test_main.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/tensor.h"
#include "tests/data_ops_cases.h"
#include "train/device_dataset.h"

using namespace rf;

namespace {

// Uploads images and indices to `b`, runs augment_batch there, returns the batch on the host.
std::vector<float> run_augment(Backend& b, const AugmentBatch& a,
                               const std::vector<std::uint8_t>& images,
                               const std::vector<int64_t>& indices) {
  const Storage dev_images(b, images.size());
  b.copy_from_host(dev_images.data(), images.data(), images.size());
  const Storage dev_indices(b, indices.size() * sizeof(int64_t));
  b.copy_from_host(dev_indices.data(), indices.data(), indices.size() * sizeof(int64_t));
  const size_t floats = size_t(a.n * a.image_bytes());
  const Storage out(b, floats * sizeof(float));
  b.augment_batch(a, static_cast<const std::uint8_t*>(dev_images.data()),
                  static_cast<const int64_t*>(dev_indices.data()), static_cast<float*>(out.data()));
  std::vector<float> host(floats);
  b.copy_to_host(host.data(), out.data(), floats * sizeof(float));
  return host;
}

std::vector<float> run_gather(Backend& b, const std::vector<float>& table, int cols,
                              const std::vector<int64_t>& indices) {
  const Storage dev_table(b, table.size() * sizeof(float));
  b.copy_from_host(dev_table.data(), table.data(), table.size() * sizeof(float));
  const Storage dev_indices(b, indices.size() * sizeof(int64_t));
  b.copy_from_host(dev_indices.data(), indices.data(), indices.size() * sizeof(int64_t));
  std::vector<float> host(indices.size() * size_t(cols));
  const Storage out(b, host.size() * sizeof(float));
  b.gather_rows(int64_t(indices.size()), cols, static_cast<const float*>(dev_table.data()),
                int64_t(table.size()) / cols, static_cast<const int64_t*>(dev_indices.data()),
                static_cast<float*>(out.data()));
  b.copy_to_host(host.data(), out.data(), host.size() * sizeof(float));
  return host;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct GreyDiff {
  double max = 0;          // grey levels
  int64_t differ = 0;      // values not bitwise equal
  int64_t over = 0;        // values more than 1 grey level apart (or NaN)
  int64_t total = 0;
};

GreyDiff grey_diff(const std::vector<float>& got, const std::vector<float>& want,
                   const data::Normalization& norm) {
  GreyDiff g;
  const size_t c = norm.mean.size();
  g.total = int64_t(want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::fabs(double(got[i]) - double(want[i])) * norm.stddev[i % c] * 255.0;
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) ++g.differ;
    if (!(d <= 1.0)) ++g.over;
    if (d > g.max) g.max = d;
  }
  return g;
}

// The first `n` of a scrambled order over `count` samples, with repeats.
std::vector<int64_t> scrambled_indices(int64_t n, int64_t count) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back((i * 7919 + 13) % count);
  v[n / 2] = v[0];
  return v;
}

}  // namespace

TEST_CASE("cuda augment_batch matches the cpu backend for every kind, CIFAR shape, batch 250") {
  const int64_t count = 1000, n = 250;
  const auto images = test::random_images(count, 32, 32, 3, 5);
  const auto indices = scrambled_indices(n, count);
  const data::Normalization norm = test::test_normalization(3);
  std::printf("%-14s %5s %12s %14s %14s\n", "kind", "epoch", "max (grey)", "values differ",
              "over 1 grey");
  for (const test::AugmentCase& k : test::augment_cases())
    for (const uint64_t epoch : {0u, 7u}) {
      CAPTURE(k.name);
      CAPTURE(epoch);
      const AugmentBatch a = test::augment_batch_of(k.config, count, 32, 32, 3, n, 3, epoch, norm);
      const std::vector<float> want = run_augment(cpu_backend(), a, images, indices);
      const std::vector<float> got = run_augment(cuda_backend(), a, images, indices);
      const GreyDiff g = grey_diff(got, want, norm);
      std::printf("%-14s %5llu %12.3g %13.5f%% %13.5f%%\n", k.name.c_str(),
                  static_cast<unsigned long long>(epoch), g.max,
                  100.0 * double(g.differ) / double(g.total),
                  100.0 * double(g.over) / double(g.total));
      if (k.config.kind == AugmentKind::Keras) {
        CHECK(g.over * 1000 <= g.total);
      } else {
        CHECK(same_bits(got, want));
      }
    }
}

TEST_CASE("cuda gather_rows matches the cpu backend bitwise; out-of-range rows are NaN") {
  const int rows = 1000, cols = 10;
  std::vector<float> table(size_t(rows) * cols);
  for (size_t i = 0; i < table.size(); ++i) table[i] = std::sin(float(i)) * 3.f;
  const auto indices = scrambled_indices(250, rows);
  CHECK(same_bits(run_gather(cuda_backend(), table, cols, indices),
                  run_gather(cpu_backend(), table, cols, indices)));
  // The device cannot throw: a bad index poisons its row, not another sample's memory.
  const std::vector<float> bad = run_gather(cuda_backend(), table, cols, {1, rows, 2});
  for (int j = 0; j < cols; ++j) {
    CHECK(bad[size_t(j)] == table[size_t(cols + j)]);
    CHECK(std::isnan(bad[size_t(cols + j)]));
    CHECK(bad[size_t(2 * cols + j)] == table[size_t(2 * cols + j)]);
  }
  const AugmentBatch a = test::augment_batch_of(data::AugmentConfig::blog(true), 4, 8, 8, 3, 2, 0,
                                                0, data::Normalization::identity(3));
  const std::vector<float> poisoned =
      run_augment(cuda_backend(), a, test::random_images(4, 8, 8, 3, 1), {0, 4});
  CHECK_FALSE(std::isnan(poisoned[0]));
  for (size_t i = 192; i < poisoned.size(); ++i) REQUIRE(std::isnan(poisoned[i]));
}

TEST_CASE("device dataset on cuda: a 150 MB upload reads back bitwise; batches match the cpu") {
  // CIFAR-10's training set: 50,000 x 32 x 32 x 3 bytes. With no augmentation and identity
  // normalization every byte comes back as px / 255, so equality with the host's normalization
  // means every byte arrived.
  const data::Dataset cifar = test::random_dataset(50000, 32, 32, 3, 10, 11);
  const train::DeviceDataset plain(cifar, data::LoaderOptions{}, Device::CUDA);
  const size_t per_batch = 5000, bytes = cifar.sample_bytes();
  std::vector<float> want(per_batch * bytes);
  for (size_t start = 0; start < cifar.size(); start += per_batch) {
    std::vector<size_t> indices(per_batch);
    for (size_t i = 0; i < per_batch; ++i) indices[i] = start + i;
    const train::DeviceBatch b = plain.make_batch(indices, 0);
    data::normalize_image(cifar.image(start), want.data(), per_batch * 32 * 32,
                          data::Normalization::identity(3));
    REQUIRE(same_bits(b.images.to_host(), want));
    const std::vector<float> targets = b.targets.to_host();
    for (size_t i = 0; i < per_batch; ++i)
      for (int k = 0; k < 10; ++k)
        REQUIRE(targets[i * 10 + size_t(k)] == (k == cifar.labels[start + i] ? 1.f : 0.f));
  }
  CHECK_THROWS_WITH(plain.make_batch(std::vector<size_t>{0, 50000}, 0),
                    doctest::Contains("sample index 50000"));

  // The whole path (keys upload, augmentation, soft-label gather) against the CPU backend's,
  // with crop-flip, which must agree bitwise.
  const data::Dataset small = test::random_dataset(600, 32, 32, 3, 10, 12);
  data::SoftLabels soft = data::one_hot(small.labels, 10);
  for (size_t i = 0; i < soft.values.size(); ++i) soft.values[i] = 0.05f + 0.5f * soft.values[i];
  data::LoaderOptions o;
  o.augment = data::AugmentConfig::pad_crop_flip(4);
  o.normalization = test::test_normalization(3);
  o.seed = 17;
  for (const data::SoftLabels* s : {static_cast<const data::SoftLabels*>(nullptr),
                                    static_cast<const data::SoftLabels*>(&soft)}) {
    const train::DeviceDataset gpu(small, o, Device::CUDA, s), cpu(small, o, Device::CPU, s);
    std::vector<size_t> indices;
    for (const int64_t i : scrambled_indices(250, 600)) indices.push_back(size_t(i));
    const train::DeviceBatch g = gpu.make_batch(indices, 3), c = cpu.make_batch(indices, 3);
    CHECK(same_bits(g.images.to_host(), c.images.to_host()));
    CHECK(same_bits(g.targets.to_host(), c.targets.to_host()));
  }
}
