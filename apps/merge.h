#pragma once
// Shards of one grid (refine_app --shard K/N, a run directory each) -> one run directory with
// every cell, as if the grid had run in one process: `refine_app merge` checks the shards, links
// their cells' files into the new directory, records the whole grid's configuration, and then
// finishes it like --resume, which finds nothing left to train and writes the reports.
#include <filesystem>
#include <string>
#include <vector>

#include "engine/json.h"

namespace rf::app {

struct MergePlan {
  Json record;  // the merged run's config.json: the shards' record, without the shard
  struct Cell {
    std::filesystem::path from;  // the cell's directory in its shard
    std::filesystem::path to;    // its place relative to the merged run directory
  };
  std::vector<Cell> cells;
  std::filesystem::path teacher;  // a shard's kept --teacher copy (apps/teacher.h); empty without
};

// Reads every shard's config.json and checks that together they are one whole grid: the same
// configuration (chain, grid, device, threads; --data may differ), one shard count, no shard
// twice, every cell present and complete (each generation and control has stats.json). Throws rf::Error
// naming the directory, the setting or the cell that is wrong.
MergePlan plan_merge(const std::vector<std::filesystem::path>& shards);

// A hard link of `from` at `to` (across file systems: a copy, renamed into place). An existing
// `to` is kept when it is the same file; any other is an error.
void link_file(const std::filesystem::path& from, const std::filesystem::path& to);

// Hard-links (across file systems: copies) every cell's files, and the kept teacher, into `out`. A file already there
// is kept when it is the same file (a merge repeated after an interruption); any other is an
// error.
void link_cells(const MergePlan& plan, const std::filesystem::path& out);

struct MergeOptions {
  std::vector<std::filesystem::path> shards;
  std::filesystem::path out;
  std::string data_dir;   // --data: where the dataset is now (for the reports' figures)
  std::string cache_dir;  // --cache-dir
  int threads = 0;
  bool help = false;
};
// `refine_app merge DIR... --out DIR [--data DIR] [--cache-dir DIR] [--threads N]`; argv[0] is
// "merge". Throws UsageError naming the flag on anything malformed.
MergeOptions parse_merge_command_line(int argc, char** argv);
std::string merge_help_text();

}  // namespace rf::app
