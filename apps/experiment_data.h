#pragma once
// Loading a dataset for the app (where to look, what to say when it is missing) and preparing
// one chain's splits: limits, the validation split (hard labels), normalization from the
// training part, and augmentation either as static copies or on the fly.
#include <filesystem>

#include "apps/cli.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/normalize.h"

namespace rf::app {

struct DataLocation {
  std::string data_dir;                 // --data; empty: the defaults
  std::filesystem::path cache_dir;      // decoded-image cache
  std::filesystem::path downloads_dir;  // where --download puts datasets (also searched)
};

// --cache-dir as given, or by default $XDG_CACHE_HOME/refinery, else ~/.cache/refinery.
std::filesystem::path cache_root(const std::string& cache_dir);
// --data as given (empty: the default directories); decoded images and downloads in their
// subdirectories of the cache.
DataLocation data_location(const std::string& data_dir, const std::filesystem::path& cache);

// The dataset's train and test splits, cut to --train-limit / --test-limit. A dataset that is
// not found gives an error saying where it looked and how to get it.
data::TrainTest load_experiment_data(const ChainConfig& c, const DataLocation& where);

// The same, first fetching a missing cifar10 / svhn with --download (see download.h).
data::TrainTest fetch_and_load(const ChainConfig& c, const DataLocation& where, bool download);

struct ChainData {
  data::Dataset train;  // the training part, followed by its static augmented copies if any
  data::Dataset val;
  data::Dataset test;
  data::Normalization normalization;
  data::AugmentConfig on_the_fly;  // None when augmentation is static or off
};

ChainData prepare_chain_data(const ChainConfig& c, const data::TrainTest& raw, std::uint64_t seed);

// The chain's inference passes (validation, testing, labeling): in order, in batches of
// --eval-batch-size.
data::LoaderOptions eval_loader_options(const ChainConfig& c, const data::Normalization& norm, Device device);
// Precise batch-norm statistics: unaugmented training images (the distribution that evaluation
// and static labeling see) in training-sized batches (training-mode statistics), shuffled by
// `seed`, full batches only so that every batch weighs the same.
data::LoaderOptions statistics_loader_options(const ChainConfig& c, const data::Normalization& norm, Device device,
                                              std::uint64_t seed, std::size_t train_images);

}  // namespace rf::app
