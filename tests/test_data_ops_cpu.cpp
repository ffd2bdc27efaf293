// The CPU backend's data ops: augment_batch is data::augment_sample, bitwise, for every kind over
// awkward shapes and index lists; gather_rows picks rows; bad input gets a clear error.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/data_ops_cases.h"
#include "engine/backend.h"

using namespace rf;

namespace {

struct Shape {
  int h, w, c;
};

// The batch the loader's kernel makes, sample by sample.
std::vector<float> expected(const test::AugmentCase& k, const std::vector<std::uint8_t>& images,
                            const Shape& s, const std::vector<int64_t>& indices,
                            std::uint64_t seed, std::uint64_t epoch,
                            const data::Normalization& norm) {
  const size_t bytes = size_t(s.h) * size_t(s.w) * size_t(s.c);
  std::vector<float> out(indices.size() * bytes);
  for (size_t i = 0; i < indices.size(); ++i)
    data::augment_sample(k.config, images.data() + size_t(indices[i]) * bytes, s.h, s.w, s.c,
                         {seed, epoch, uint64_t(indices[i])}, norm, out.data() + i * bytes);
  return out;
}

std::vector<float> cpu_batch(const AugmentBatch& a, const std::vector<std::uint8_t>& images,
                             const std::vector<int64_t>& indices) {
  std::vector<float> out(size_t(a.n * a.image_bytes()));
  cpu_backend().augment_batch(a, images.data(), indices.data(), out.data());
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("data ops (cpu): augment_batch equals augment_sample bitwise, every kind and shape") {
  const int64_t count = 7;
  // c = 1, 3 and 4; square and not; a 32-image batch so that the threaded path runs too.
  const Shape shapes[] = {{32, 32, 3}, {28, 28, 1}, {9, 13, 3}, {13, 9, 1}, {5, 7, 4}};
  std::vector<std::vector<int64_t>> index_lists = {{3}, {6, 0, 6, 2, 5}};  // n = 1; out of order, repeated
  std::vector<int64_t> many;
  for (int i = 0; i < 32; ++i) many.push_back((i * 5 + 3) % count);
  index_lists.push_back(many);
  for (const Shape& s : shapes) {
    const auto images = test::random_images(count, s.h, s.w, s.c, uint64_t(s.h * 100 + s.c));
    const data::Normalization norm = test::test_normalization(s.c);
    for (const test::AugmentCase& k : test::augment_cases())
      for (const auto& indices : index_lists)
        for (const uint64_t epoch : {0u, 3u}) {
          CAPTURE(k.name);
          CAPTURE(s.h);
          CAPTURE(s.w);
          CAPTURE(s.c);
          CAPTURE(indices.size());
          const AugmentBatch a = test::augment_batch_of(k.config, count, s.h, s.w, s.c,
                                                        int64_t(indices.size()), 42, epoch, norm);
          REQUIRE(same_bits(cpu_batch(a, images, indices),
                            expected(k, images, s, indices, 42, epoch, norm)));
        }
  }
}

TEST_CASE("data ops (cpu): the comparison can fail: another epoch or seed draws other images") {
  const auto images = test::random_images(4, 8, 8, 3, 1);
  const data::Normalization norm = test::test_normalization(3);
  const std::vector<int64_t> indices = {0, 1, 2, 3};
  for (const test::AugmentCase& k : test::augment_cases()) {
    if (k.config.kind == AugmentKind::None) continue;
    CAPTURE(k.name);
    const AugmentBatch a = test::augment_batch_of(k.config, 4, 8, 8, 3, 4, 9, 1, norm);
    const std::vector<float> got = cpu_batch(a, images, indices);
    CHECK_FALSE(same_bits(got, expected(k, images, {8, 8, 3}, indices, 9, 2, norm)));
    CHECK_FALSE(same_bits(got, expected(k, images, {8, 8, 3}, indices, 10, 1, norm)));
  }
}

TEST_CASE("data ops (cpu): gather_rows picks rows by index, repeats and order kept") {
  const int rows = 5, cols = 3;
  std::vector<float> table(rows * cols);
  for (size_t i = 0; i < table.size(); ++i) table[i] = float(i) * 0.5f - 2.f;
  const std::vector<int64_t> indices = {4, 0, 4, 2};
  std::vector<float> out(indices.size() * cols, -1.f);
  cpu_backend().gather_rows(int64_t(indices.size()), cols, table.data(), rows, indices.data(),
                            out.data());
  for (size_t i = 0; i < indices.size(); ++i)
    for (int j = 0; j < cols; ++j)
      CHECK(out[i * cols + size_t(j)] == table[size_t(indices[i]) * cols + size_t(j)]);
}

TEST_CASE("data ops (cpu): an index outside the set, or a bad shape, is a clear error") {
  const auto images = test::random_images(3, 4, 4, 3, 2);
  const data::Normalization norm = test::test_normalization(3);
  const AugmentBatch a =
      test::augment_batch_of(data::AugmentConfig::blog(true), 3, 4, 4, 3, 2, 0, 0, norm);
  std::vector<float> out(2 * 48);
  for (const int64_t bad : {int64_t(3), int64_t(-1)}) {
    const std::vector<int64_t> indices = {0, bad};
    const std::string augment_error = "augment_batch: index " + std::to_string(bad) +
                                      " (batch position 1) outside the 3 rows";
    const std::string gather_error = "gather_rows: index " + std::to_string(bad);
    CHECK_THROWS_WITH(cpu_backend().augment_batch(a, images.data(), indices.data(), out.data()),
                      doctest::Contains(augment_error.c_str()));
    CHECK_THROWS_WITH(
        cpu_backend().gather_rows(2, 3, out.data(), 3, indices.data(), out.data() + 48),
        doctest::Contains(gather_error.c_str()));
  }
  const std::vector<int64_t> ok = {0, 1};
  AugmentBatch five = a;
  five.c = 5;
  CHECK_THROWS_WITH(cpu_backend().augment_batch(five, images.data(), ok.data(), out.data()),
                    doctest::Contains("1 to 4 channels"));
  AugmentBatch negative_pad = a;
  negative_pad.spec = data::AugmentConfig::pad_crop_flip(-1);
  CHECK_THROWS_WITH(cpu_backend().augment_batch(negative_pad, images.data(), ok.data(), out.data()),
                    doctest::Contains("crop padding -1"));
}
