#pragma once
// A tiny refinery chain's data and read-back for the in-process chain tests (the GPU equivalence
// and --data-on-device suites).
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "apps/file_io.h"
#include "data/dataset.h"
#include "engine/json.h"
#include "train/progress.h"

namespace rf::test {

// Class k of 10 lights one horizontal band of one channel over dim noise: learned within two
// epochs, so the labels a generation hands on are confident. (Near-uniform labels would make the
// argmax comparison a coin toss between any two float implementations.)
inline data::Dataset synthetic(int n, unsigned seed) {
  data::Dataset d;
  d.name = "synthetic";
  d.height = d.width = 32;
  d.channels = 3;
  d.classes = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
  d.labels.resize(size_t(n));
  d.images.resize(size_t(n) * d.sample_bytes());
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    const int k = int(rng() % 10);
    d.labels[size_t(i)] = k;
    std::uint8_t* img = d.image(size_t(i));
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        for (int c = 0; c < 3; ++c) {
          const bool band = y / 3 == k && c == k % 3;
          img[(y * 32 + x) * 3 + c] = std::uint8_t(rng() % 64 + (band ? 160 : 0));
        }
  }
  return d;
}

// A chain of two ResNet-8 generations on synthetic(), plain SGD at a constant rate, no figures:
// what each suite then sets (epochs, batch, augmentation, ...) is what it is about.
inline app::ChainConfig tiny_chain_config(const std::string& refine) {
  app::ChainConfig c;
  c.dataset = "synthetic";
  c.models = {"resnet8"};
  c.generations = 2;
  c.refine = refine;
  c.optimizer = "sgd";
  c.lr = 0.05;
  c.schedule = "constant";
  c.val_fraction = 0.1;
  c.figure_images = 0;
  return c;
}

inline std::vector<train::EpochStats> epochs_of(const std::filesystem::path& metrics) {
  std::vector<train::EpochStats> out;
  std::istringstream in(app::read_text_file(metrics));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(train::EpochStats::from_json(parse_json(line, metrics.string())));
  return out;
}

}  // namespace rf::test
