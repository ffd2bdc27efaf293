#include "apps/experiment_data.h"

#include <cstdio>
#include <cstdlib>

#include "apps/download.h"
#include "data/registry.h"
#include "data/split.h"
#include "engine/check.h"
#include "train/host_allocator.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

// N images spread evenly over the split, in order: a fixed subset with the split's class mix.
// The sources are in a shuffled order (published, or data/sample_order.h), where the first N
// would do as well; spreading also keeps the mix of a run recorded with an image-folder tree in
// its class-sorted file order, whose first N images would all be airplanes.
data::Dataset spread_subset(const data::Dataset& d, long long limit) {
  if (limit <= 0 || size_t(limit) >= d.size()) return d;
  std::vector<size_t> idx(static_cast<size_t>(limit));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i * d.size() / idx.size();
  return data::subset(d, idx);
}

data::AugmentConfig augment_config(const ChainConfig& c) {
  // Flips change what a digit means; the blog flips CIFAR-10 only.
  const bool flip = c.dataset != "svhn";
  data::AugmentConfig a;
  if (c.augment == "keras") {
    a = data::AugmentConfig::blog(flip);
  } else if (c.augment == "crop") {
    a = data::AugmentConfig::pad_crop_flip();
    a.crop.horizontal_flip = flip;
  }
  return a;
}

}  // namespace

fs::path cache_root(const std::string& cache_dir) {
  if (!cache_dir.empty()) return cache_dir;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "refinery";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "refinery";
  return fs::path(".cache") / "refinery";
}

DataLocation data_location(const std::string& data_dir, const fs::path& cache) {
  return DataLocation{data_dir, cache / "decoded", cache / "datasets"};
}

data::LoaderOptions eval_loader_options(const ChainConfig& c, const data::Normalization& norm, Device device) {
  data::LoaderOptions o;
  o.batch_size = size_t(c.eval_batch_size > 0 ? c.eval_batch_size : c.batch_size);
  o.allocator = train::host_allocator_for(device);
  o.shuffle = false;
  o.normalization = norm;
  return o;
}

data::LoaderOptions statistics_loader_options(const ChainConfig& c, const data::Normalization& norm, Device device,
                                              std::uint64_t seed, std::size_t train_images) {
  data::LoaderOptions o = eval_loader_options(c, norm, device);
  o.batch_size = size_t(c.batch_size);
  o.shuffle = true;
  o.seed = seed;
  o.drop_last = train_images >= o.batch_size;
  return o;
}

data::TrainTest load_experiment_data(const ChainConfig& c, const DataLocation& where) {
  data::LoadOptions o;
  o.cache_dir = where.cache_dir;
  o.sample_order_seed = c.sample_order_seed;
  o.image_size = c.image_size;
  o.log = [](const std::string& msg) { std::printf("data: %s\n", msg.c_str()); };
  if (!where.data_dir.empty()) o.search_dirs = {where.data_dir};
  o.search_dirs.push_back(where.downloads_dir);
  data::TrainTest t;
  try {
    t = data::load_dataset(c.dataset, o);
  } catch (const std::exception& e) {
    // --data may name the dataset's own folder rather than its parent.
    const bool named = c.dataset == "cifar10" || c.dataset == "svhn" || c.dataset == "fashion-mnist";
    if (!named || where.data_dir.empty() || !fs::is_directory(where.data_dir))
      throw Error(std::string(e.what()) + (named ? "\n" + download_hint(c.dataset) : ""));
    try {
      t = data::load_dataset(where.data_dir, o);
    } catch (const std::exception&) {
      throw Error(std::string(e.what()) + "\n" + download_hint(c.dataset));
    }
  }
  t.train = spread_subset(t.train, c.train_limit);
  t.test = spread_subset(t.test, c.test_limit);
  return t;
}

data::TrainTest fetch_and_load(const ChainConfig& c, const DataLocation& where, bool download) {
  if (download) {
    try {
      return load_experiment_data(c, where);
    } catch (const std::exception&) {
      std::printf("%s: not found locally; downloading into %s\n", c.dataset.c_str(), where.downloads_dir.string().c_str());
      download_dataset(official_source(c.dataset), where.downloads_dir,
                       [](const std::string& msg) { std::printf("download: %s\n", msg.c_str()); });
    }
  }
  return load_experiment_data(c, where);
}

ChainData prepare_chain_data(const ChainConfig& c, const data::TrainTest& raw, std::uint64_t seed) {
  data::SplitOptions so;
  so.fraction = c.val_fraction;
  so.mode = c.val_split == "tail" ? data::SplitMode::Tail : data::SplitMode::Random;
  so.seed = seed;
  data::Split split = data::split_validation(raw.train, so);
  RF_CHECK(split.train.size() > 0, "no training images left after the validation split");
  ChainData d;
  d.normalization = data::compute_normalization(split.train);
  const data::AugmentConfig aug = augment_config(c);
  if (aug.kind != data::AugmentKind::None && c.augment_copies > 0) {
    d.train = data::append_augmented_copies(split.train, aug, c.augment_copies, seed);
  } else {
    d.train = std::move(split.train);
    d.on_the_fly = aug;
  }
  d.val = std::move(split.val);
  d.test = raw.test;
  return d;
}

}  // namespace rf::app
