#pragma once
// A run as a grid of independent cells, and the shards that spread it over processes, GPUs and
// machines. A cell is one chain: one experiment (a plain run, or one Table-1 dataset x
// augmentation setting) and one seed index, with all its generations. Cells share nothing but
// the read-only dataset, so a cell computes the same numbers in whichever process runs it.
// Cells are numbered experiment by experiment, seed by seed; shard K/N runs those numbered
// K mod N, which deals every experiment's cells (of different cost) out across the shards.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "apps/experiment_data.h"
#include "engine/json.h"

namespace rf::app {

struct GridExperiment {
  ChainConfig chain;
  std::filesystem::path dir;  // relative to the run directory: "" (a plain run) or "<dataset>-aug<0|1>"
  bool augment = false;       // Table 1's augmentation column
  std::string name;           // for messages: "cifar10, augmentation on"
};

// A plain run is one experiment; a Table-1 run has datasets x {augmentation off, on}.
std::vector<GridExperiment> grid_experiments(const ChainConfig& base, const std::optional<GridConfig>& table1);

// The seed indices of experiment `experiment` that `shard` runs; all of them without a shard.
std::vector<int> shard_seeds(const std::optional<Shard>& shard, int experiment, int seeds);
// "cell 3 (cifar10, augmentation on, seed 1)"
std::string cell_name(const GridExperiment& e, int experiment, int seed_index, int seeds);

// The datasets of every experiment with a cell in `shard`, each loaded once, by dataset name.
std::map<std::string, data::TrainTest> load_grid_data(const std::vector<GridExperiment>& experiments,
                                                      const std::optional<Shard>& shard, int seeds,
                                                      const DataLocation& where, bool download);

// config.json's "shard": {"index": K, "count": N}, or null for a run of every cell.
Json shard_to_json(const std::optional<Shard>& s);
std::optional<Shard> shard_from_json(const Json& j);

}  // namespace rf::app
