#pragma once
// The blog's Table 1 in one command: {datasets} x {augmentation off, on} x {R1..Rn} x {seeds},
// test accuracy mean ± std, with the blog's published numbers beside ours where it has them.
// Each dataset x augmentation setting is a full experiment directory (with its own report) under
// the run directory; the table goes to stdout, table1.md and table1.csv. A shard (apps/grid.h)
// runs its cells only and leaves the reports and the table to the merge.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "apps/chain.h"
#include "apps/cli.h"
#include "apps/experiment_data.h"

namespace rf::app {

// The cell's configuration: `base` with the dataset and augmentation switched.
ChainConfig table1_cell(const ChainConfig& base, const std::string& dataset, bool augment);
std::filesystem::path table1_cell_dir(const std::filesystem::path& run, const std::string& dataset, bool augment);

// `raw`: the datasets of load_grid_data.
void run_table1(const ChainConfig& base, const GridConfig& grid, const std::optional<Shard>& shard,
                const std::map<std::string, data::TrainTest>& raw, const std::filesystem::path& run,
                const RunContext& ctx, const std::string& device);

}  // namespace rf::app
