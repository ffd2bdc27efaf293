// The real datasets on this machine: Fashion-MNIST from Debian, CIFAR-10 (JPEG q75 image tree)
// from ../shared/data. Each case is skipped, with a message, where its data is absent.
#include <doctest/doctest.h>

#include <filesystem>
#include <numeric>
#include <set>

#include "data/dataset_cache.h"
#include "data/idx.h"
#include "data/registry.h"
#include "data/split.h"
#include "tests/data/test_util.h"

using namespace rf::data;
namespace fs = std::filesystem;

namespace {

std::uint64_t pixel_sum(const Dataset& d) {
  return std::accumulate(d.images.begin(), d.images.end(), std::uint64_t{0});
}

std::vector<std::size_t> histogram(const Dataset& d) {
  std::vector<std::size_t> h(static_cast<std::size_t>(d.num_classes()), 0);
  for (std::int32_t l : d.labels) ++h[static_cast<std::size_t>(l)];
  return h;
}

}  // namespace

TEST_CASE("real fashion-mnist: counts, label histogram and pixel sums") {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!is_fashion_mnist_dir(dir)) {
    MESSAGE("skipped: Fashion-MNIST not installed at " << dir << " (apt-get install dataset-fashion-mnist)");
    return;
  }
  LoadOptions o;
  o.search_dirs = {"/usr/share/datasets"};
  const TrainTest t = load_dataset("fashion-mnist", o);
  REQUIRE(t.train.size() == 60000);
  REQUIRE(t.test.size() == 10000);
  CHECK(t.train.height == 28);
  CHECK(t.train.width == 28);
  CHECK(t.train.channels == 1);
  CHECK(histogram(t.train) == std::vector<std::size_t>(10, 6000));
  CHECK(histogram(t.test) == std::vector<std::size_t>(10, 1000));
  // Computed independently with Python: gzip.open(...).read(), np.frombuffer(offset=16),
  // .sum(dtype=np.uint64); first labels from the label files (offset=8).
  CHECK(pixel_sum(t.train) == 3431114169ULL);
  CHECK(pixel_sum(t.test) == 573469082ULL);
  CHECK(std::accumulate(t.train.image(0), t.train.image(1), 0) == 76247);
  CHECK(std::vector<std::int32_t>(t.train.labels.begin(), t.train.labels.begin() + 5) ==
        std::vector<std::int32_t>{9, 0, 0, 3, 0});
  CHECK(std::vector<std::int32_t>(t.test.labels.begin(), t.test.labels.begin() + 5) ==
        std::vector<std::int32_t>{9, 2, 1, 1, 6});
}

TEST_CASE("real cifar10 image tree: 60,000 images in 10 classes, then served from the cache") {
  const fs::path shared = RF_SHARED_DATA_DIR;
  if (!fs::is_directory(shared / "cifar10" / "train")) {
    MESSAGE("skipped: CIFAR-10 image tree not found at " << (shared / "cifar10"));
    return;
  }
  rf::data::test::TempDir cache;
  LoadOptions o;
  o.search_dirs = {shared};
  o.cache_dir = cache.path();
  std::vector<std::string> log;
  o.log = [&](const std::string& m) { log.push_back(m); };
  const TrainTest t = load_dataset("cifar10", o);
  CHECK(t.train.name == "cifar10");
  REQUIRE(t.train.size() == 50000);
  REQUIRE(t.test.size() == 10000);
  CHECK(t.train.height == 32);
  CHECK(t.train.width == 32);
  CHECK(t.train.channels == 3);
  CHECK(t.train.classes == std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer",
                                                    "dog", "frog", "horse", "ship", "truck"});
  CHECK(histogram(t.train) == std::vector<std::size_t>(10, 5000));
  CHECK(histogram(t.test) == std::vector<std::size_t>(10, 1000));

  log.clear();
  const TrainTest again = load_dataset("cifar10", o);
  int hits = 0;
  for (const auto& m : log) hits += m.rfind("cache hit", 0) == 0;
  CHECK(hits == 2);
  CHECK(again.train.images == t.train.images);
  CHECK(again.test.labels == t.test.labels);
}

TEST_CASE("real cifar10 image tree: the blog's tail split holds every class, in both parts") {
  // The tree lists its files class by class; only the sample order applied at load makes the
  // blog's validation split (the last 15% of the training file) a sample of every class.
  const fs::path shared = RF_SHARED_DATA_DIR;
  if (!fs::is_directory(shared / "cifar10" / "train")) {
    MESSAGE("skipped: CIFAR-10 image tree not found at " << (shared / "cifar10"));
    return;
  }
  LoadOptions o;
  o.search_dirs = {shared};
  const TrainTest t = load_dataset("cifar10", o);
  const Split blog = split_validation(t.train, {.fraction = 0.15, .mode = SplitMode::Tail});
  REQUIRE(blog.val.size() == 7500);
  for (const Dataset* part : {&blog.train, &blog.val}) {
    const std::vector<std::size_t> h = histogram(*part);
    std::string shares;
    for (std::size_t c = 0; c < h.size(); ++c) {
      const double share = double(h[c]) / double(part->size());
      CAPTURE(c);
      CHECK(share >= 0.08);
      CHECK(share <= 0.12);
      shares += " " + part->classes[c] + " " + std::to_string(100 * share).substr(0, 5) + "%";
    }
    MESSAGE(std::string(part == &blog.train ? "train" : "val") << " (" << part->size() << "):" << shares);
  }
  // The report's Figure 4 shows the first training images: not twelve airplanes.
  const std::set<std::int32_t> first(blog.train.labels.begin(), blog.train.labels.begin() + 12);
  CHECK(first.size() >= 5);
}
