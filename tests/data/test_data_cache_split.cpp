// The decoded-dataset cache, validation splits, soft labels, normalization, channel replication.
#include <doctest/doctest.h>

#include <cmath>
#include <atomic>
#include <set>
#include <thread>
#include <stdexcept>

#include "data/bytes.h"
#include "data/dataset_cache.h"
#include "data/normalize.h"
#include "data/soft_labels.h"
#include "data/split.h"
#include "tests/data/test_util.h"

using namespace rf::data;
using rf::data::test::TempDir;
using rf::data::test::write_bytes;
namespace fs = std::filesystem;

namespace {

Dataset make_dataset(std::size_t n, int classes = 3) {
  Dataset d;
  d.name = "toy";
  d.height = 2;
  d.width = 3;
  d.channels = 3;
  for (int c = 0; c < classes; ++c) d.classes.push_back("class" + std::to_string(c));
  d.images.resize(n * d.sample_bytes());
  for (std::size_t i = 0; i < d.images.size(); ++i) d.images[i] = static_cast<std::uint8_t>(i * 7 + i / 5);
  for (std::size_t i = 0; i < n; ++i) d.labels.push_back(static_cast<std::int32_t>(i % static_cast<std::size_t>(classes)));
  return d;
}

bool same(const Dataset& a, const Dataset& b) {
  return a.name == b.name && a.height == b.height && a.width == b.width && a.channels == b.channels &&
         a.classes == b.classes && a.images == b.images && a.labels == b.labels;
}

}  // namespace

TEST_CASE("cache: round trip keeps every field and the fingerprint") {
  const Dataset d = make_dataset(11);
  const CachedDataset c = parse_dataset_cache(serialize_dataset(d, 0x1234abcdULL), "mem");
  CHECK(c.fingerprint == 0x1234abcdULL);
  CHECK(same(c.dataset, d));
}

TEST_CASE("cache: missing, stale and corrupt caches are rebuilt; a valid one is used") {
  TempDir tmp;
  const fs::path file = tmp.path() / "sub" / "toy.rfcache";
  int builds = 0;
  auto build = [&] {
    ++builds;
    return make_dataset(9);
  };
  CacheResult r = load_or_build(file, 1, build);
  CHECK(r.status == CacheStatus::Missing);
  CHECK(builds == 1);
  r = load_or_build(file, 1, build);
  CHECK(r.status == CacheStatus::Hit);
  CHECK(builds == 1);
  CHECK(same(r.dataset, make_dataset(9)));
  r = load_or_build(file, 2, build);
  CHECK(r.status == CacheStatus::Stale);
  CHECK(builds == 2);

  Bytes bytes = read_file(file);
  bytes[bytes.size() / 2] ^= 0x01;
  write_bytes(file, bytes);
  r = load_or_build(file, 2, build);
  CHECK(r.status == CacheStatus::Corrupt);
  CHECK(r.reason.find("checksum") != std::string::npos);
  CHECK(builds == 3);
  CHECK(load_or_build(file, 2, build).status == CacheStatus::Hit);

  bytes = read_file(file);
  bytes.resize(bytes.size() - 10);
  write_bytes(file, bytes);
  CHECK(load_or_build(file, 2, build).status == CacheStatus::Corrupt);
}

TEST_CASE("cache: writers racing on one file each finish, and the file is whole") {
  // Two runs started together decode the same source at once; before each writer had its own
  // temporary name, one writer's rename took the other's file away and that run died.
  TempDir tmp;
  const fs::path file = tmp.path() / "toy.rfcache";
  const Dataset d = make_dataset(500);
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i)
    writers.emplace_back([&] {
      for (int k = 0; k < 10; ++k) {
        try {
          write_dataset_cache(file, d, 77);
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  for (auto& t : writers) t.join();
  CHECK(failures == 0);
  int builds = 0;
  const CacheResult r = load_or_build(file, 77, [&] {
    ++builds;
    return d;
  });
  CHECK(builds == 0);
  CHECK(same(r.dataset, d));
  for (const auto& e : fs::directory_iterator(tmp.path())) CHECK(e.path() == file);  // no leftovers
}

TEST_CASE("cache: parser rejects bad magic, versions and inconsistent sizes with the file name") {
  const Bytes good = serialize_dataset(make_dataset(4), 7);
  CHECK_THROWS_WITH_AS(parse_dataset_cache(Bytes(good.begin() + 1, good.end()), "c.bin"),
                       doctest::Contains("c.bin: not a dataset cache"), std::runtime_error);
  CHECK_THROWS_WITH_AS(parse_dataset_cache(Bytes(3, 0), "c.bin"), doctest::Contains("bad magic"),
                       std::runtime_error);
  for (std::size_t len = 8; len < good.size(); len += 13)
    CHECK_THROWS_AS(parse_dataset_cache(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len)), "c.bin"),
                    std::runtime_error);
}

TEST_CASE("cache: the source fingerprint follows file contents' size, names and mtimes") {
  TempDir tmp;
  write_bytes(tmp.path() / "a" / "1.png", {1, 2, 3});
  write_bytes(tmp.path() / "b.png", {4});
  const std::uint64_t f0 = source_fingerprint(tmp.path());
  CHECK(source_fingerprint(tmp.path()) == f0);
  write_bytes(tmp.path() / "a" / "1.png", {1, 2, 3, 4});
  const std::uint64_t f1 = source_fingerprint(tmp.path());
  CHECK(f1 != f0);
  fs::rename(tmp.path() / "b.png", tmp.path() / "c.png");
  CHECK(source_fingerprint(tmp.path()) != f1);
  CHECK_THROWS_AS(source_fingerprint(tmp.path() / "missing"), std::runtime_error);
}

TEST_CASE("split: random split is seeded, disjoint, complete and 15% by default") {
  const Dataset d = make_dataset(200);
  const Split s = split_validation(d, {});
  CHECK(s.val.size() == 30);
  CHECK(s.train.size() == 170);
  std::set<std::size_t> all(s.train_indices.begin(), s.train_indices.end());
  all.insert(s.val_indices.begin(), s.val_indices.end());
  CHECK(all.size() == 200);
  for (std::size_t k = 0; k < s.val.size(); ++k) {
    CHECK(s.val.labels[k] == d.labels[s.val_indices[k]]);
    CHECK(std::equal(s.val.image(k), s.val.image(k) + d.sample_bytes(), d.image(s.val_indices[k])));
  }
  CHECK(split_validation(d, {}).val_indices == s.val_indices);
  SplitOptions other;
  other.seed = 99;
  CHECK(split_validation(d, other).val_indices != s.val_indices);
  other.fraction = 0.25;
  CHECK(split_validation(d, other).val.size() == 50);
}

TEST_CASE("split: tail mode holds out the last fraction of the file; bad fractions throw") {
  const Dataset d = make_dataset(100);
  SplitOptions o;
  o.mode = SplitMode::Tail;
  const Split s = split_validation(d, o);
  REQUIRE(s.val_indices.size() == 15);
  CHECK(s.val_indices.front() == 85);
  CHECK(s.val_indices.back() == 99);
  CHECK(s.train_indices.back() == 84);
  o.fraction = 1.0;
  CHECK_THROWS_AS(split_validation(d, o), std::runtime_error);
  o.fraction = 0.0;
  CHECK(split_validation(d, o).val.size() == 0);
}

TEST_CASE("soft labels: one-hot, save/load round trip, and rejection of bad files") {
  const Dataset d = make_dataset(5);
  SoftLabels s = one_hot(d.labels, 3);
  CHECK(s.row(4)[1] == 1.0f);
  CHECK(s.row(4)[0] == 0.0f);
  s.values[0] = 0.7f;
  s.values[1] = 0.2f;
  s.values[2] = 0.1f;
  TempDir tmp;
  const fs::path file = tmp.path() / "soft.bin";
  save_soft_labels(file, s);
  const SoftLabels back = load_soft_labels(file, d);
  CHECK(back.rows == 5);
  CHECK(back.classes == 3);
  CHECK(back.values == s.values);

  CHECK_THROWS_WITH_AS(load_soft_labels(file, make_dataset(6)), doctest::Contains("soft.bin"), std::runtime_error);
  Bytes bytes = read_file(file);
  bytes[30] ^= 0x40;
  CHECK_THROWS_WITH_AS(parse_soft_labels(bytes, "s"), doctest::Contains("checksum"), std::runtime_error);
  SoftLabels bad = s;
  bad.values[3] = 2.0f;
  CHECK_THROWS_WITH_AS(check_soft_labels(bad, "b"), doctest::Contains("row 1 sums to"), std::runtime_error);
  bad.values[3] = std::nanf("");
  CHECK_THROWS_AS(check_soft_labels(bad, "b"), std::runtime_error);
  CHECK_THROWS_AS(one_hot(std::vector<std::int32_t>{0, 3}, 3), std::runtime_error);
}

TEST_CASE("normalization: per-channel statistics; normalized data has mean 0 and std 1") {
  const Dataset d = make_dataset(50);
  const Normalization n = compute_normalization(d);
  REQUIRE(n.channels() == 3);
  std::vector<float> out(d.images.size());
  normalize_image(d.images.data(), out.data(), d.images.size() / 3, n);
  for (int c = 0; c < 3; ++c) {
    double sum = 0, sq = 0;
    for (std::size_t i = static_cast<std::size_t>(c); i < out.size(); i += 3) {
      sum += out[i];
      sq += double(out[i]) * out[i];
    }
    const double count = static_cast<double>(out.size() / 3);
    CHECK(sum / count == doctest::Approx(0.0).epsilon(1e-4));
    CHECK(sq / count == doctest::Approx(1.0).epsilon(1e-3));
  }
  const std::uint8_t px[3] = {0, 255, 51};
  float f[3];
  normalize_image(px, f, 1, Normalization::identity(3));
  CHECK(f[0] == 0.0f);
  CHECK(f[1] == doctest::Approx(1.0f));
  CHECK(f[2] == doctest::Approx(0.2f));
}

TEST_CASE("dataset: 1-channel images replicate to 3 channels; validate catches inconsistency") {
  Dataset g;
  g.name = "g";
  g.height = 1;
  g.width = 2;
  g.channels = 1;
  g.classes = {"a"};
  g.images = {10, 20};
  g.labels = {0};
  const Dataset rgb = to_three_channels(g);
  CHECK(rgb.channels == 3);
  CHECK(rgb.images == std::vector<std::uint8_t>{10, 10, 10, 20, 20, 20});
  g.labels = {1};
  CHECK_THROWS_WITH_AS(g.validate("g"), doctest::Contains("label 1"), std::runtime_error);
  g.labels = {0, 0};
  CHECK_THROWS_WITH_AS(g.validate("g"), doctest::Contains("image buffer"), std::runtime_error);
}
