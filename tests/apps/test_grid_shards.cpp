// A grid spread over processes gives the numbers of the grid run in one process, bit for bit on
// the CPU: a tiny Table-1 grid (ResNet-8 on a 16x16 image-folder dataset this test writes, 2
// generations x 2 seeds x 2 augmentation settings) as 2 shards + refine_app merge, and a plain
// 3-seed run with --gpus 0,1 --device cpu (two child processes that only see
// CUDA_VISIBLE_DEVICES). Merging shards that do not make one grid fails with a clear message.
// tools/slurm_grid.sh runs with a stand-in sbatch that runs each job at once.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "apps/file_io.h"
#include "apps/image_grid.h"
#include "data/bytes.h"
#include "data/rng.h"
#include "engine/atomic_file.h"
#include "engine/json.h"
#include "tests/apps/refine_app_process.h"

namespace fs = std::filesystem;
using rf::app::read_text_file;
using rf::test::run;
using rf::test::spawn;
using rf::test::wait_for;

namespace {

struct Scratch {
  fs::path root = fs::temp_directory_path() / ("rf_test_grid_" + std::to_string(::getpid()));
  fs::path cache = root / "cache";  // the dataset is this test's own: so is its decoded cache
  Scratch() {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~Scratch() { fs::remove_all(root); }
};

// ROOT/{train,test}/<class>/<i>.png: 16x16 RGB, each class brighter in its own channel, noisy.
void write_dataset(const fs::path& root, int train_per_class, int test_per_class) {
  rf::data::Dataset d;
  d.height = d.width = 16;
  d.channels = 3;
  rf::data::Rng rng(7);
  for (const auto& [split, n] : {std::pair<std::string, int>{"train", train_per_class}, {"test", test_per_class}})
    for (int c = 0; c < 3; ++c) {
      const fs::path dir = root / split / ("class" + std::to_string(c));
      fs::create_directories(dir);
      for (int i = 0; i < n; ++i) {
        d.classes = {"x"};
        d.labels = {0};
        d.images.assign(d.sample_bytes(), 0);
        for (size_t p = 0; p < d.images.size(); ++p)
          d.images[p] = std::uint8_t(rng.below(120) + (int(p % 3) == c ? 120 : 0));
        const auto png = rf::app::png_of_image(d, 0, 1);
        rf::write_file_atomic(dir / (std::to_string(i) + ".png"),
                                   std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
      }
    }
}

// The one run directory refine_app made under `out`.
fs::path run_dir_in(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out)) return e.path();
  FAIL("no run directory in " << out.string());
  return {};
}

// results.csv without the timing columns (train_seconds, images_per_second), which no two runs share.
std::string results_without_timings(const fs::path& file) {
  std::istringstream in(read_text_file(file));
  std::string out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream cells(line);
    int column = 0;
    for (std::string cell; std::getline(cells, cell, ',');)
      if (column++ != 7 && column != 9) out += cell + ",";
    out += "\n";
  }
  return out;
}

std::string text_of(const fs::path& f) { return fs::exists(f) ? read_text_file(f) : "(missing " + f.string() + ")"; }

// Every result of experiment directory `a` equals that of `b`: the per-seed table and every
// generation's refined labels, bit for bit.
void check_same_results(const fs::path& a, const fs::path& b, int seeds, int generations) {
  CHECK(results_without_timings(a / "results.csv") == results_without_timings(b / "results.csv"));
  for (int k = 0; k < seeds; ++k)
    for (int g = 1; g <= generations; ++g) {
      const fs::path rel = fs::path("seed" + std::to_string(k)) / ("gen" + std::to_string(g)) / "labels.bin";
      CHECK_MESSAGE(text_of(a / rel) == text_of(b / rel), (a / rel).string());
    }
}

std::vector<std::string> grid_args(const fs::path& data, const fs::path& cache, const fs::path& out) {
  return {"--table1", "--table1-datasets", data.string(), "--model", "resnet8", "--epochs", "1", "--generations", "2",
          "--seeds", "2", "--batch-size", "16", "--precise-bn", "2", "--threads", "1", "--device", "cpu",
          "--figure-images", "2", "--cache-dir", cache.string(), "--out", out.string()};
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Runs `refine_app merge` and returns its exit code; its output in `output`.
int merge(const std::vector<std::string>& args, const fs::path& log, std::string& output) {
  std::vector<std::string> a = {"merge"};
  a.insert(a.end(), args.begin(), args.end());
  const int rc = wait_for(spawn(a, log));
  output = read_text_file(log);
  return rc;
}

}  // namespace

TEST_CASE("a Table-1 grid as 2 shards, merged, equals the grid run in one process") {
  Scratch s;
  const fs::path data = s.root / "synth";
  write_dataset(data, 16, 6);
  const fs::path log = s.root / "log.txt";
  // All three runs at once: they are independent.
  const pid_t whole = spawn(grid_args(data, s.cache, s.root / "whole"), s.root / "whole.log");
  const pid_t shard0 = spawn(with(grid_args(data, s.cache, s.root / "s0"), {"--shard", "0/2"}), s.root / "s0.log");
  const pid_t shard1 = spawn(with(grid_args(data, s.cache, s.root / "s1"), {"--shard", "1/2"}), s.root / "s1.log");
  for (const auto& [pid, name] : {std::pair{whole, "whole"}, {shard0, "s0"}, {shard1, "s1"}}) {
    const int rc = wait_for(pid);
    CHECK_MESSAGE(rc == 0, name << ":\n" << read_text_file(s.root / (std::string(name) + ".log")));
  }
  const fs::path w = run_dir_in(s.root / "whole"), a = run_dir_in(s.root / "s0"), b = run_dir_in(s.root / "s1");

  // Cells are numbered experiment by experiment, seed by seed: shard 0/2 has seed 0 of both
  // augmentation settings, shard 1/2 seed 1; neither writes the reports, the merge does.
  CHECK(fs::exists(a / "synth-aug0" / "seed0" / "gen2" / "stats.json"));
  CHECK(fs::exists(a / "synth-aug1" / "seed0" / "gen2" / "stats.json"));
  CHECK_FALSE(fs::exists(a / "synth-aug0" / "seed1"));
  CHECK(fs::exists(b / "synth-aug1" / "seed1" / "gen2" / "stats.json"));
  CHECK_FALSE(fs::exists(b / "synth-aug1" / "seed0"));
  CHECK_FALSE(fs::exists(a / "table1.csv"));
  CHECK(rf::parse_json(read_text_file(b / "config.json"), "config.json").at("shard") ==
        rf::parse_json(R"({"index": 1, "count": 2})", "shard"));

  std::string output;
  const fs::path merged = s.root / "merged";
  REQUIRE_MESSAGE(merge({b.string(), a.string(), "--out", merged.string(), "--cache-dir", s.cache.string()}, log, output) == 0,
                  output);
  CHECK(output.find("merged 2 shard(s), 4 cells") != std::string::npos);
  CHECK(read_text_file(merged / "table1.csv") == read_text_file(w / "table1.csv"));
  CHECK(read_text_file(merged / "table1.md") == read_text_file(w / "table1.md"));
  for (const char* experiment : {"synth-aug0", "synth-aug1"}) {
    CAPTURE(experiment);
    check_same_results(merged / experiment, w / experiment, 2, 2);
    CHECK(fs::is_regular_file(merged / experiment / "report.html"));
    CHECK(fs::is_regular_file(merged / experiment / "figure4.png"));
  }
  const rf::Json record = rf::parse_json(read_text_file(merged / "config.json"), "config.json");
  CHECK(record.at("shard").is_null());
  CHECK(record.at("merged_from").size() == 2);

  // Shards that are not one grid are refused, saying why; nothing trains.
  CHECK(merge({a.string(), "--out", (s.root / "m1").string()}, log, output) == 1);
  CHECK(output.find("cell 1 (" + data.string() + ", augmentation off, seed 1) is missing: it belongs to shard 1/2, "
                    "which is not among the directories given") != std::string::npos);
  CHECK(merge({a.string(), a.string(), "--out", (s.root / "m2").string()}, log, output) == 1);
  CHECK(output.find("are both shard 0/2: give each shard once") != std::string::npos);
  const fs::path other = s.root / "other";
  fs::copy(b, other, fs::copy_options::recursive);
  rf::Json changed = rf::parse_json(read_text_file(other / "config.json"), "config.json");
  changed["chain"]["epochs"] = 2;
  rf::write_file_atomic(other / "config.json", changed.dump());
  CHECK(merge({a.string(), other.string(), "--out", (s.root / "m3").string()}, log, output) == 1);
  CHECK(output.find("are not shards of one grid: their configurations differ in chain.epochs 2 vs 1") != std::string::npos);
  CHECK(merge({w.string(), "--out", (s.root / "m4").string()}, log, output) == 1);
  CHECK(output.find("not a shard") != std::string::npos);
  CHECK(merge({a.string(), b.string(), "--out", merged.string()}, log, output) == 2);
  CHECK(output.find("is not an empty directory") != std::string::npos);
  CHECK_FALSE(fs::exists(s.root / "m1"));
}

TEST_CASE("--gpus 0,1 --device cpu: a child process per GPU, merged, equals one process") {
  Scratch s;
  const fs::path data = s.root / "synth";
  write_dataset(data, 16, 6);
  const std::vector<std::string> args = {data.string(), "--model", "resnet8", "--epochs", "1", "--generations", "2",
                                         "--seeds", "3", "--batch-size", "16", "--precise-bn", "2", "--threads", "1",
                                         "--device", "cpu", "--figure-images", "2", "--cache-dir", s.cache.string()};
  const pid_t whole = spawn(with(args, {"--out", (s.root / "whole").string()}), s.root / "whole.log");
  const fs::path log = s.root / "gpus.log";
  REQUIRE(run(with(args, {"--gpus", "0,1", "--out", (s.root / "gpus").string()}), log) == 0);
  REQUIRE_MESSAGE(wait_for(whole) == 0, read_text_file(s.root / "whole.log"));
  const fs::path w = run_dir_in(s.root / "whole"), g = run_dir_in(s.root / "gpus");

  check_same_results(g, w, 3, 2);
  CHECK(fs::is_regular_file(g / "report.html"));
  const std::string parent = read_text_file(log);
  CHECK(parent.find("shard 0/2 (GPU 0): done") != std::string::npos);
  CHECK(parent.find("shard 1/2 (GPU 1): done") != std::string::npos);
  // 3 cells over 2 shards: seeds 0 and 2 in shard 0, seed 1 in shard 1; each saw its GPU only.
  CHECK(fs::exists(g / "shard-0-of-2" / "seed2" / "gen2" / "stats.json"));
  CHECK(fs::exists(g / "shard-1-of-2" / "seed1" / "gen2" / "stats.json"));
  CHECK(read_text_file(g / "shard-0-of-2" / "output.log").find("CUDA_VISIBLE_DEVICES=0") != std::string::npos);
  CHECK(read_text_file(g / "shard-1-of-2" / "output.log").find("CUDA_VISIBLE_DEVICES=1") != std::string::npos);

  // A failing child: the parent names it, its exit code and its log, and does not report.
  rf::write_file_atomic(g / "shard-1-of-2" / "config.json", "{ not json");
  CHECK(wait_for(spawn({"--resume", g.string(), "--cache-dir", s.cache.string()}, log)) == 1);
  const std::string failed = read_text_file(log);
  INFO(failed);
  CHECK(failed.find("1 of 2 shards failed") != std::string::npos);
  CHECK(failed.find("shard 1/2 (GPU 1): exit code 1; its output: " + (g / "shard-1-of-2" / "output.log").string()) !=
        std::string::npos);
  CHECK(failed.find("config.json") != std::string::npos);  // the end of the child's log
}

TEST_CASE("tools/slurm_grid.sh: an array task per shard, a merge after them, a requeued task resumes") {
  Scratch s;
  const fs::path data = s.root / "synth";
  write_dataset(data, 16, 6);
  // sbatch stood in for: each job runs at once, array tasks one after another.
  const fs::path bin = s.root / "bin";
  fs::create_directories(bin);
  rf::write_file_atomic(bin / "sbatch", R"(#!/usr/bin/env bash
set -euo pipefail
array= output=/dev/stdout
while [[ $1 == --* ]]; do
  case $1 in --array=*) array=${1#--array=} ;; --output=*) output=${1#--output=} ;; esac
  echo "$1" >> "$(dirname "$0")/sbatch-options"
  shift
done
script=$1; shift
if [[ -n $array ]]; then
  for ((i = ${array%-*}; i <= ${array#*-}; i++)); do SLURM_ARRAY_TASK_ID=$i bash "$script" "$@" > "${output//%a/$i}" 2>&1; done
else
  bash "$script" "$@" > "$output" 2>&1
fi
echo 4242
)");
  fs::permissions(bin / "sbatch", fs::perms::owner_all);
  const fs::path out = s.root / "cluster", log = s.root / "log.txt";
  const std::string script = std::string(RF_SOURCE_DIR) + "/tools/slurm_grid.sh";
  const std::string flags = data.string() + " --model resnet8 --epochs 1 --generations 2 --seeds 3 --batch-size 16 "
                            "--precise-bn 2 --threads 1 --device cpu --figure-images 2 --cache-dir " + s.cache.string();
  const std::string submit = "PATH=" + bin.string() + ":$PATH REFINE_APP=" + RF_REFINE_APP + " " + script + " 2 " +
                             out.string() + " " + flags + " > " + log.string() + " 2>&1";
  REQUIRE_MESSAGE(std::system(submit.c_str()) == 0, text_of(log));
  INFO(text_of(log) << text_of(out / "slurm" / "merge.out"));
  CHECK(text_of(log).find("merge: job 4242 after all succeed") != std::string::npos);
  const std::string options = text_of(bin / "sbatch-options");
  CHECK(options.find("--array=0-1") != std::string::npos);
  CHECK(options.find("--dependency=afterok:4242") != std::string::npos);
  for (int k = 0; k < 3; ++k) CHECK(fs::exists(out / "merged" / ("seed" + std::to_string(k)) / "gen2" / "stats.json"));
  CHECK(fs::is_regular_file(out / "merged" / "report.html"));

  // A requeued task continues its shard's run directory instead of starting another.
  const fs::path shard1 = run_dir_in(out / "shard-1");
  const std::string requeued = "SLURM_ARRAY_TASK_ID=1 " + script + " --shard-task 2 " + out.string() + " " +
                               RF_REFINE_APP + " " + flags + " > " + log.string() + " 2>&1";
  REQUIRE_MESSAGE(std::system(requeued.c_str()) == 0, text_of(log));
  CHECK(text_of(log).find("run directory: " + shard1.string()) != std::string::npos);
  int runs = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(out / "shard-1")) ++runs;
  CHECK(runs == 1);
}
