#include "apps/table1.h"

#include <cstdio>
#include <map>
#include <optional>

#include "apps/control_report.h"
#include "apps/grid.h"
#include "apps/report.h"
#include "apps/run_dir.h"
#include "engine/atomic_file.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

// bjlkeng.io/posts/label-refinery, Table 1: Keras ResNet50, 5 runs each, test accuracy %.
std::optional<MeanStd> blog_number(const std::string& dataset, bool augment, int generation) {
  static const std::map<std::string, double> table = {
      {"cifar10/0/1", 62.9}, {"cifar10/0/1s", 6.7}, {"cifar10/1/1", 68.7}, {"cifar10/1/1s", 4.5},
      {"cifar10/0/2", 44.2}, {"cifar10/0/2s", 20},  {"cifar10/1/2", 64.2}, {"cifar10/1/2s", 11},
      {"cifar10/0/3", 32.3}, {"cifar10/0/3s", 22},  {"cifar10/1/3", 59.0}, {"cifar10/1/3s", 12},
      {"svhn/0/1", 88.1},    {"svhn/0/1s", 2.7},    {"svhn/1/1", 91.0},    {"svhn/1/1s", 2.1},
      {"svhn/0/2", 73.1},    {"svhn/0/2s", 30},     {"svhn/1/2", 91.5},    {"svhn/1/2s", 1.3},
      {"svhn/0/3", 73.9},    {"svhn/0/3s", 31},     {"svhn/1/3", 91.5},    {"svhn/1/3s", 1.2}};
  const std::string key = dataset + "/" + (augment ? "1" : "0") + "/" + std::to_string(generation);
  const auto m = table.find(key), s = table.find(key + "s");
  if (m == table.end()) return std::nullopt;
  return MeanStd{m->second / 100, s->second / 100, 5};
}

}  // namespace

ChainConfig table1_cell(const ChainConfig& base, const std::string& dataset, bool augment) {
  ChainConfig c = base;
  c.dataset = dataset;
  if (!augment) {
    c.augment = "none";
    c.augment_copies = 0;
  } else if (c.augment == "none") {
    // "Augmentation on" needs some augmentation: the blog's.
    c.augment = "keras";
    c.augment_copies = 2;
  }
  return c;
}

fs::path table1_cell_dir(const fs::path& run, const std::string& dataset, bool augment) {
  return run / (safe_name(dataset) + (augment ? "-aug1" : "-aug0"));
}

void run_table1(const ChainConfig& base, const GridConfig& grid, const std::optional<Shard>& shard,
                const std::map<std::string, data::TrainTest>& raw, const fs::path& run, const RunContext& ctx,
                const std::string& device) {
  struct Column {
    std::string dataset;
    bool augment;
    ChainResults results, controls;
  };
  std::vector<Column> columns;
  const std::vector<GridExperiment> experiments = grid_experiments(base, grid);
  for (size_t e = 0; e < experiments.size(); ++e) {
    const GridExperiment& x = experiments[e];
    const std::vector<int> seeds = shard_seeds(shard, int(e), base.seeds);
    if (seeds.empty()) continue;
    const fs::path dir = run / x.dir;
    fs::create_directories(dir);
    std::printf("\n=== Table 1 column: %s -> %s\n", x.name.c_str(), dir.string().c_str());
    const ExperimentOutcome o = run_experiment(x.chain, raw.at(x.chain.dataset), dir, ctx, seeds);
    if (!shard) write_report(dir, x.chain, o, device);
    columns.push_back({x.chain.dataset, x.augment, o.results, o.controls});
  }
  if (shard) return;

  std::string md = "| Label Refinery iteration |";
  for (const Column& col : columns) {
    const std::string name = col.dataset + " Augment=" + (col.augment ? "1" : "0");
    md += " " + name + " |" + (base.control ? " " + name + " " + table1_control_header() + " |" : "");
  }
  md += "\n|---|";
  for (size_t i = 0; i < columns.size(); ++i) md += base.control ? "---|---|" : "---|";
  md += "\n";
  std::string csv = "dataset,augment,generation,seeds,ours_mean,ours_std,blog_mean,blog_std";
  csv += base.control ? "," + table1_control_csv_header() + "\n" : "\n";
  char b[160];
  for (int g = 1; g <= base.generations; ++g) {
    md += "| R" + std::to_string(g) + " |";
    for (const Column& col : columns) {
      const MeanStd ours = mean_std(across_seeds(col.results, g, &GenerationResult::test_accuracy));
      const auto blog = blog_number(col.dataset, col.augment, g);
      // (appending, not operator+ on a literal: GCC 12 warns falsely on that, -Wrestrict)
      md += " " + format_percent(ours) + (blog ? std::string(" (blog ").append(format_percent(*blog)).append(")") : "") + " |";
      if (base.control) md += " " + table1_control_cell(col.results, col.controls, g) + " |";
      std::snprintf(b, sizeof b, "%s,%d,%d,%d,%.4f,%.4f,", col.dataset.c_str(), col.augment ? 1 : 0, g, ours.n,
                    100 * ours.mean, 100 * ours.std);
      csv += b;
      if (blog) {
        std::snprintf(b, sizeof b, "%.1f,%.1f", 100 * blog->mean, 100 * blog->std);
        csv += b;
      } else {
        csv += ",";
      }
      if (base.control) csv += "," + table1_control_csv(col.results, col.controls, g);
      csv += "\n";
    }
    md += "\n";
  }
  const std::string title = "Table 1: test accuracy % (mean ± sample std over " + std::to_string(base.seeds) +
                            " seed(s)); in parentheses the blog's Keras ResNet50 (5 runs each) where it has the cell." +
                            (base.control ? " " + table1_control_note() : "") + "\n\n";
  write_file_atomic(run / "table1.md", title + md);
  write_file_atomic(run / "table1.csv", csv);
  std::printf("\n%s%s\nwritten: %s, %s\n", title.c_str(), md.c_str(), (run / "table1.md").string().c_str(),
              (run / "table1.csv").string().c_str());
}

}  // namespace rf::app
