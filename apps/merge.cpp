#include "apps/merge.h"

#include <map>
#include <optional>
#include <set>

#include "apps/cli.h"
#include "apps/file_io.h"
#include "apps/flag_values.h"
#include "apps/grid.h"
#include "apps/run_dir.h"
#include "apps/teacher.h"
#include "engine/check.h"

namespace rf::app {

namespace fs = std::filesystem;

namespace {

struct ShardRun {
  fs::path dir;
  Json record;
  Shard shard;
};

std::string shard_text(const Shard& s) { return std::to_string(s.index) + "/" + std::to_string(s.count); }

ShardRun read_shard(const fs::path& dir) {
  const fs::path file = dir / "config.json";
  if (!fs::is_regular_file(file)) throw Error(dir.string() + ": no config.json there (not a refine_app run directory)");
  const Json j = parse_json(read_text_file(file), file.string());
  const std::optional<Shard> s =
      read_json(file.string(), [&] { return j.contains("shard") ? shard_from_json(j.at("shard")) : std::nullopt; });
  if (!s)
    throw Error(dir.string() + ": not a shard (it ran every cell, without --shard K/N); merge combines the run "
                               "directories of refine_app --shard K/N");
  return {dir, j, *s};
}

// What shards of one grid share: everything recorded but the shard itself, the command line that
// made it, and where the data was (--data only moves it).
Json comparable(const Json& record) {
  Json j = record;
  j.erase("shard");
  j.erase("command");
  if (j.contains("chain") && j.at("chain").is_object()) j["chain"].erase("data_dir");
  return j;
}

void list_differences(const Json& a, const Json& b, const std::string& path, std::vector<std::string>& out) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const std::string& k : keys)
      list_differences(a.contains(k) ? a.at(k) : Json(), b.contains(k) ? b.at(k) : Json(),
                       path.empty() ? k : path + "." + k, out);
  } else if (a != b) {
    out.push_back(path + " " + b.dump() + " vs " + a.dump());
  }
}

}  // namespace

void link_file(const fs::path& from, const fs::path& to) {
  if (fs::exists(to)) {
    if (fs::equivalent(from, to)) return;
    throw Error(to.string() + ": already there and not the file of " + from.string() +
                "; merge into a new directory");
  }
  std::error_code link_error;
  fs::create_hard_link(from, to, link_error);
  if (!link_error) return;
  // Another file system: a copy, renamed into place so that no half-copied file is ever seen.
  fs::path temp = to;
  temp += ".tmp";
  std::error_code copy_error;
  fs::copy_file(from, temp, fs::copy_options::overwrite_existing, copy_error);
  if (!copy_error) fs::rename(temp, to, copy_error);
  RF_CHECK(!copy_error, to.string() << ": cannot link (" << link_error.message() << ") or copy ("
                                    << copy_error.message() << ") " << from.string() << " there");
}

MergePlan plan_merge(const std::vector<fs::path>& dirs) {
  RF_CHECK(!dirs.empty(), "merge: no shard directories");
  std::vector<ShardRun> runs;
  for (const fs::path& d : dirs) runs.push_back(read_shard(d));
  const ShardRun& first = runs.front();
  std::map<int, const ShardRun*> by_index;
  for (const ShardRun& r : runs) {
    if (r.shard.count != first.shard.count)
      throw Error(r.dir.string() + " is shard " + shard_text(r.shard) + " but " + first.dir.string() + " is shard " +
                  shard_text(first.shard) + ": the shards of one grid all have the same N");
    std::vector<std::string> diffs;
    list_differences(comparable(first.record), comparable(r.record), "", diffs);
    if (!diffs.empty()) {
      std::string list;
      for (const std::string& d : diffs) list += (list.empty() ? "" : "; ") + d;
      throw Error(r.dir.string() + " and " + first.dir.string() +
                  " are not shards of one grid: their configurations differ in " + list);
    }
    if (const auto [it, fresh] = by_index.emplace(r.shard.index, &r); !fresh)
      throw Error(r.dir.string() + " and " + it->second->dir.string() + " are both shard " + shard_text(r.shard) +
                  ": give each shard once");
  }

  const fs::path first_file = first.dir / "config.json";
  const Json& j = first.record;
  const ChainConfig base = read_json(first_file.string(), [&] { return ChainConfig::from_json(j.at("chain")); });
  std::optional<GridConfig> table1;
  read_json(first_file.string(), [&] {
    if (!j.at("table1").is_null()) table1 = GridConfig{j.at("table1").get<std::vector<std::string>>()};
  });
  const std::vector<GridExperiment> experiments = grid_experiments(base, table1);
  MergePlan plan;
  for (size_t e = 0; e < experiments.size(); ++e)
    for (int k = 0; k < base.seeds; ++k) {
      const std::string cell = cell_name(experiments[e], int(e), k, base.seeds);
      const Shard owner{(int(e) * base.seeds + k) % first.shard.count, first.shard.count};
      const auto it = by_index.find(owner.index);
      if (it == by_index.end())
        throw Error(cell + " is missing: it belongs to shard " + shard_text(owner) +
                    ", which is not among the directories given");
      const fs::path experiment_dir = it->second->dir / experiments[e].dir;
      for (int g = 1; g <= base.generations; ++g) {
        const bool control = base.control && g >= base.first_refined();
        for (const bool of_control : {false, true}) {
          if (of_control && !control) continue;
          const GenerationPaths p = of_control ? control_paths(experiment_dir, k, g) : generation_paths(experiment_dir, k, g);
          if (!fs::exists(p.stats))
            throw Error(cell + " is not complete in " + it->second->dir.string() + ": " + (of_control ? "the control of R" : "R") +
                        std::to_string(g) + " has no stats.json; finish that shard with refine_app --resume " +
                        it->second->dir.string());
        }
      }
      plan.cells.push_back({seed_dir(experiment_dir, k), seed_dir(experiments[e].dir, k)});
    }
  if (!base.teacher.empty()) plan.teacher = first.dir / kTeacherFileName;
  plan.record = j;
  plan.record["shard"] = nullptr;
  std::vector<std::string> from;
  for (const fs::path& d : dirs) from.push_back(fs::absolute(d).lexically_normal().string());
  plan.record["merged_from"] = from;
  return plan;
}

void link_cells(const MergePlan& plan, const fs::path& out) {
  if (!plan.teacher.empty()) link_file(plan.teacher, out / kTeacherFileName);
  for (const MergePlan::Cell& cell : plan.cells) {
    fs::create_directories(out / cell.to);
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(cell.from)) {
      const fs::path to = out / cell.to / e.path().lexically_relative(cell.from);
      if (e.is_directory())
        fs::create_directories(to);
      else if (e.is_regular_file())
        link_file(e.path(), to);
    }
  }
}

MergeOptions parse_merge_command_line(int argc, char** argv) {
  MergeOptions m;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      m.shards.emplace_back(a);
      continue;
    }
    if (a == "--help") {
      m.help = true;
      continue;
    }
    const FlagWord w = split_flag_word(a);
    a = w.name;
    if (!w.has_value && i + 1 >= argc) throw UsageError("merge " + a + ": needs a value");
    const std::string value = w.has_value ? w.value : argv[++i];
    if (a == "--out")
      m.out = value;
    else if (a == "--data")
      m.data_dir = value;
    else if (a == "--cache-dir")
      m.cache_dir = value;
    else
      throw UsageError("merge: unknown flag " + a + " (see refine_app merge --help)");
  }
  if (m.help) return m;
  if (m.shards.empty()) throw UsageError("merge: no shard directories given (refine_app merge DIR... --out DIR)");
  if (m.out.empty()) throw UsageError("merge: --out DIR is required: the new run directory to merge into");
  return m;
}

std::string merge_help_text() {
  return "usage: refine_app merge SHARD_RUN_DIR... --out DIR [--data DIR] [--cache-dir DIR]\n\n"
         "Combines the run directories of refine_app --shard K/N (all N shards of one configuration)\n"
         "into DIR, a new run directory as if the grid had run in one process: every cell's files are\n"
         "hard-linked there (copied across file systems), then the reports are written as one process\n"
         "writes them: report.md, report.html, results.csv (with --table1 one set per dataset x\n"
         "augmentation, and table1.md, table1.csv). Shards of different configurations, a shard given\n"
         "twice, and missing or unfinished cells are refused.\n\n"
         "flags:\n"
         "  --out DIR\n      the merged run directory; must be new or empty (required)\n"
         "  --data DIR\n      where the dataset is now, for the reports' figures (default: as the shards ran)\n"
         "  --cache-dir DIR\n      decoded-image cache (default: $XDG_CACHE_HOME/refinery or ~/.cache/refinery)\n"
         "  --help\n      this text\n";
}

}  // namespace rf::app
