#pragma once
// The blog's Table 1 in one command: {datasets} x {augmentation off, on} x {R1..Rn} x {seeds},
// test accuracy mean ± std, with the blog's published numbers beside ours where it has them.
// Each grid cell is a full experiment directory (with its own report) under the run directory;
// the table goes to stdout, table1.md and table1.csv.
#include <filesystem>
#include <string>

#include "apps/chain.h"
#include "apps/cli.h"
#include "apps/experiment_data.h"

namespace rf::app {

// The cell's configuration: `base` with the dataset and augmentation switched.
ChainConfig table1_cell(const ChainConfig& base, const std::string& dataset, bool augment);
std::filesystem::path table1_cell_dir(const std::filesystem::path& run, const std::string& dataset, bool augment);

void run_table1(const ChainConfig& base, const GridConfig& grid, const std::filesystem::path& run,
                const DataLocation& where, bool download, const RunContext& ctx, const std::string& device);

}  // namespace rf::app
