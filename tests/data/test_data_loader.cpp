// Loader: order determinism, coverage, partial batches, soft targets, allocator hook, restarts.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <stdexcept>

#include "data/loader.h"

using namespace rf::data;

namespace {

Dataset make_dataset(std::size_t n) {
  Dataset d;
  d.name = "toy";
  d.height = 4;
  d.width = 4;
  d.channels = 3;
  d.classes = {"a", "b", "c", "d", "e"};
  d.images.resize(n * d.sample_bytes());
  for (std::size_t i = 0; i < d.images.size(); ++i) d.images[i] = static_cast<std::uint8_t>(i * 13 + i / 48);
  for (std::size_t i = 0; i < n; ++i) d.labels.push_back(static_cast<std::int32_t>(i % 5));
  return d;
}

struct Epoch {
  std::vector<std::size_t> indices;
  std::vector<std::size_t> sizes;
  std::vector<float> images;
};

Epoch run_epoch(Loader& loader, std::uint64_t epoch) {
  Epoch e;
  loader.start_epoch(epoch);
  while (BatchPtr b = loader.next()) {
    CHECK(b->epoch == epoch);
    CHECK(b->number == e.sizes.size());
    e.sizes.push_back(b->size);
    e.indices.insert(e.indices.end(), b->indices.begin(), b->indices.end());
    e.images.insert(e.images.end(), b->images, b->images + b->image_floats());
  }
  CHECK(loader.next() == nullptr);
  return e;
}

}  // namespace

TEST_CASE("loader: every sample exactly once per epoch; last partial batch kept or dropped") {
  const Dataset d = make_dataset(103);
  LoaderOptions o;
  o.batch_size = 10;
  Loader keep(d, o);
  CHECK(keep.batches_per_epoch() == 11);
  const Epoch e = run_epoch(keep, 0);
  CHECK(e.sizes.size() == 11);
  CHECK(e.sizes.back() == 3);
  CHECK(std::set<std::size_t>(e.indices.begin(), e.indices.end()).size() == 103);
  CHECK(e.indices.size() == 103);

  o.drop_last = true;
  Loader drop(d, o);
  CHECK(drop.batches_per_epoch() == 10);
  const Epoch f = run_epoch(drop, 0);
  CHECK(f.indices.size() == 100);
  CHECK(std::set<std::size_t>(f.indices.begin(), f.indices.end()).size() == 100);
}

TEST_CASE("loader: a fixed seed gives the same order and images whatever the worker count") {
  const Dataset d = make_dataset(77);
  LoaderOptions o;
  o.batch_size = 8;
  o.seed = 3;
  o.augment = AugmentConfig::blog(true);
  o.prefetch = 2;
  std::vector<Epoch> runs;
  for (unsigned workers : {0u, 1u, 3u}) {
    o.workers = workers;
    Loader loader(d, o);
    runs.push_back(run_epoch(loader, 5));
    CHECK(runs.back().indices == loader.epoch_order(5));
  }
  for (const Epoch& r : runs) {
    CHECK(r.indices == runs[0].indices);
    CHECK(r.images == runs[0].images);
  }
  Loader loader(d, o);
  CHECK(loader.epoch_order(6) != loader.epoch_order(5));
  o.seed = 4;
  CHECK(Loader(d, o).epoch_order(5) != loader.epoch_order(5));
  o.shuffle = false;
  const auto order = Loader(d, o).epoch_order(9);
  for (std::size_t i = 0; i < order.size(); ++i) REQUIRE(order[i] == i);
}

TEST_CASE("loader: batch contents match augment_sample, hard labels and one-hot or soft targets") {
  const Dataset d = make_dataset(20);
  SoftLabels soft = one_hot(d.labels, 5);
  for (std::size_t i = 0; i < soft.rows; ++i) {
    float* row = soft.values.data() + i * 5;
    for (int k = 0; k < 5; ++k) row[k] = 0.1f;
    row[d.labels[i]] = 0.6f;
  }
  LoaderOptions o;
  o.batch_size = 6;
  o.augment = AugmentConfig::pad_crop_flip(1);
  o.normalization = {{0.4f, 0.5f, 0.6f}, {0.2f, 0.3f, 0.25f}};
  o.seed = 11;
  for (const bool with_soft : {false, true}) {
    Loader loader(d, o, with_soft ? &soft : nullptr);
    loader.start_epoch(2);
    const BatchPtr b = loader.next();
    REQUIRE(b);
    CHECK(b->size == 6);
    CHECK(b->classes == 5);
    std::vector<float> expect(d.sample_bytes());
    for (std::size_t i = 0; i < b->size; ++i) {
      const std::size_t idx = b->indices[i];
      CHECK(b->labels[i] == d.labels[idx]);
      augment_sample(o.augment, d.image(idx), 4, 4, 3, {11, 2, idx}, o.normalization, expect.data());
      CHECK(std::equal(expect.begin(), expect.end(), b->images + i * d.sample_bytes()));
      for (int k = 0; k < 5; ++k) {
        const float want = with_soft ? soft.row(idx)[static_cast<std::size_t>(k)] : (k == d.labels[idx] ? 1.0f : 0.0f);
        CHECK(b->soft_targets[i * 5 + static_cast<std::size_t>(k)] == want);
      }
    }
  }
  SoftLabels wrong = one_hot(std::vector<std::int32_t>{0, 1}, 5);
  CHECK_THROWS_AS(Loader(d, o, &wrong), std::runtime_error);
}

TEST_CASE("loader: buffers come from the caller's allocator, are reused, and are all freed") {
  std::atomic<int> allocs{0}, frees{0};
  {
    const Dataset d = make_dataset(64);
    LoaderOptions o;
    o.batch_size = 4;
    o.workers = 2;
    o.prefetch = 3;
    o.allocator = {[&](std::size_t n) {
                     ++allocs;
                     return ::operator new(n);
                   },
                   [&](void* p) {
                     ++frees;
                     ::operator delete(p);
                   }};
    BatchPtr kept;
    {
      Loader loader(d, o);
      for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
        loader.start_epoch(epoch);
        while (BatchPtr b = loader.next()) kept = b;  // one batch outlives the loader
      }
      // Two buffers per batch; far fewer batches than the 48 delivered were ever allocated.
      CHECK(allocs.load() <= 2 * 8);
    }
    CHECK(kept->size == 4);
    CHECK(kept->images[0] == kept->images[0]);
  }
  CHECK(frees.load() == allocs.load());
}

TEST_CASE("loader: restarting mid-epoch discards stale batches; next() before start throws") {
  const Dataset d = make_dataset(50);
  LoaderOptions o;
  o.batch_size = 5;
  o.workers = 2;
  Loader loader(d, o);
  CHECK_THROWS_AS(loader.next(), std::logic_error);
  loader.start_epoch(0);
  REQUIRE(loader.next());
  REQUIRE(loader.next());
  const Epoch e = run_epoch(loader, 1);
  CHECK(e.indices == loader.epoch_order(1));
  CHECK(e.indices.size() == 50);
}

TEST_CASE("loader: indices-only batches carry the full loader's order and labels, and no buffers") {
  const Dataset d = make_dataset(23);
  std::atomic<int> allocs{0};
  for (const bool drop_last : {false, true})
    for (const unsigned workers : {0u, 2u}) {
      LoaderOptions o;
      o.batch_size = 5;
      o.drop_last = drop_last;
      o.seed = 3;
      o.workers = workers;
      o.augment = AugmentConfig::blog(true);
      Loader full(d, o);
      o.indices_only = true;
      o.allocator = {[&](std::size_t) -> void* {
                       ++allocs;
                       return nullptr;
                     },
                     [](void*) {}};
      Loader order(d, o);
      CHECK(order.batches_per_epoch() == full.batches_per_epoch());
      for (const std::uint64_t epoch : {0u, 4u}) {
        full.start_epoch(epoch);
        order.start_epoch(epoch);
        std::size_t batches = 0;
        while (BatchPtr want = full.next()) {
          const BatchPtr got = order.next();
          REQUIRE(got);
          CHECK(got->images == nullptr);
          CHECK(got->soft_targets == nullptr);
          CHECK(got->size == want->size);
          CHECK(got->epoch == epoch);
          CHECK(got->number == batches++);
          CHECK(got->indices == want->indices);
          CHECK(got->labels == want->labels);
          CHECK((got->height == 4 && got->width == 4 && got->channels == 3 && got->classes == 5));
        }
        CHECK(order.next() == nullptr);
        CHECK(batches == (drop_last ? 4u : 5u));
      }
    }
  CHECK(allocs == 0);
}
