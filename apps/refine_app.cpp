// refine_app: the Label Refinery chain, its Table-1 grid, and the run directory a person reads;
// `refine_app merge` combines the shards of a grid; predict / evaluate / export apply a trained
// model file (model_command_line.h). Exit codes: 0 done, 1 error, 2 bad command line, 130
// interrupted (resumable).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "apps/chain.h"
#include "apps/cli.h"
#include "apps/control_report.h"
#include "apps/experiment_data.h"
#include "apps/file_io.h"
#include "apps/grid.h"
#include "apps/merge.h"
#include "apps/model_command_line.h"
#include "apps/model_commands.h"
#include "apps/multi_gpu.h"
#include "apps/report.h"
#include "apps/run_dir.h"
#include "apps/table1.h"
#include "apps/teacher.h"
#include "engine/atomic_file.h"
#include "engine/backend.h"

namespace fs = std::filesystem;
using namespace rf;
using namespace rf::app;

namespace {

std::atomic<bool> g_stop{false};

// The first Ctrl-C / SIGTERM asks the trainer to stop between batches (the last completed epoch
// is on disk); a second one kills at once.
extern "C" void on_signal(int sig) {
  g_stop.store(true);
  std::signal(sig, SIG_DFL);
}

Json run_record(const Options& o, const std::string& device, int argc, char** argv) {
  const Json grid = o.table1 ? Json(o.table1->datasets) : Json();
  return Json::object({{"format", "refine_app-run-1"}, {"chain", o.chain.to_json()}, {"table1", grid},
                       {"shard", shard_to_json(o.shard)}, {"gpus", o.gpus.empty() ? Json() : Json(o.gpus)},
                       {"device", device}, {"threads", o.threads},
                       {"command", std::vector<std::string>(argv, argv + argc)}});
}

// --resume: the recorded configuration replaces the command line's (only --threads, --cache-dir
// and --data may be given again; the first two do not change results, --data only moves them).
void load_run_record(Options& o, const fs::path& dir) {
  const fs::path file = dir / "config.json";
  if (!fs::exists(file))
    throw UsageError("--resume " + dir.string() + ": no config.json there (not a refine_app run directory)");
  const Json j = parse_json(read_text_file(file), file.string());
  read_json(file.string(), [&] {
    const std::string data_dir = o.chain.data_dir;
    o.chain = ChainConfig::from_json(j.at("chain"));
    if (!data_dir.empty()) o.chain.data_dir = data_dir;
    o.table1.reset();
    if (!j.at("table1").is_null()) o.table1 = GridConfig{.datasets = j.at("table1").get<std::vector<std::string>>()};
    // (absent in runs recorded before shards existed: every cell, one process)
    o.shard = j.contains("shard") ? shard_from_json(j.at("shard")) : std::nullopt;
    o.gpus.clear();
    if (j.contains("gpus") && !j.at("gpus").is_null()) o.gpus = j.at("gpus").get<std::vector<std::string>>();
    o.device = j.at("device").get<std::string>();
    // CPU results are bitwise reproducible for a given thread count: keep the run's.
    if (o.threads == 0) o.threads = json_integer<int>(j.at("threads"));
  });
}

Device choose_device(const std::string& requested) {
  if (requested == "cpu") return Device::CPU;
  if (requested == "cuda") {
    if (!cuda_available())
      throw UsageError("--device cuda: no usable GPU (this binary " +
                       std::string(
#ifdef RF_WITH_CUDA
                           "has the CUDA backend, but no device or driver answered"
#else
                           "was built without CUDA: configure with nvcc present or -DRF_WITH_CUDA=ON"
#endif
                           "); use --device cpu"));
    return Device::CUDA;
  }
  return default_device();
}

// Runs, continues or finishes the run `o` describes, computing on `device`; the reports name
// `device_text`, the device the run trains on.
int execute(Options& o, Device device, const std::string& device_text, int argc, char** argv) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
  const fs::path cache = cache_root(o.cache_dir);
  const DataLocation where = data_location(o.chain.data_dir, cache);
  const std::vector<GridExperiment> experiments = grid_experiments(o.chain, o.table1);

  // The data is loaded before the run directory is created and anything trains, so a missing
  // dataset fails in seconds and leaves no empty run behind. (A --gpus parent loads it for its
  // children: downloaded and decoded once, into the cache they read.)
  const auto raw = load_grid_data(experiments, o.shard, o.chain.seeds, where, o.download);

  // A teacher is loaded before the run directory is made too, and kept in it (apps/teacher.h).
  std::unique_ptr<models::Model> teacher;
  if (o.resume.empty() && !o.chain.teacher.empty()) teacher = load_teacher(o.chain.teacher, device);

  fs::path run_dir;
  if (o.resume.empty()) {
    run_dir = create_run_dir(o.out, o.table1 ? "table1" : o.chain.dataset, o.chain.refine);
    if (teacher) o.chain.teacher_md5 = keep_teacher(o.chain.teacher, run_dir);
    write_file_atomic(run_dir / "config.json", run_record(o, device_text, argc, argv).dump() + "\n");
  } else {
    run_dir = o.resume;
    if (!o.chain.teacher.empty()) teacher = load_kept_teacher(run_dir, o.chain.teacher_md5, device);
  }
  std::string where_text = "device " + device_text;
  if (o.shard) where_text += ", shard " + std::to_string(o.shard->index) + "/" + std::to_string(o.shard->count);
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) where_text += std::string(", CUDA_VISIBLE_DEVICES=") + v;
  std::printf("run directory: %s  (%s)\n", run_dir.string().c_str(), where_text.c_str());

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  int generations = 0;
  for (size_t e = 0; e < experiments.size(); ++e)
    generations += int(shard_seeds(o.shard, int(e), o.chain.seeds).size()) * o.chain.trained_per_chain();
  RunProgress progress(generations);
  const RunContext ctx{device, &g_stop, &progress, teacher.get()};
  try {
    if (!o.gpus.empty()) {
      // The cells train in the children; this process then finds them complete and reports.
      const Json record = parse_json(read_text_file(run_dir / "config.json"), (run_dir / "config.json").string());
      const int threads_per_child = std::max(1, omp_get_max_threads() / int(o.gpus.size()));
      const std::vector<fs::path> shards = run_shards_on_gpus(fs::read_symlink("/proc/self/exe"), run_dir, record, o.gpus,
                                                              threads_per_child, {"--cache-dir", cache.string()}, &g_stop);
      link_cells(plan_merge(shards), run_dir);
    }
    if (o.table1) {
      run_table1(o.chain, *o.table1, o.shard, raw, run_dir, ctx, device_text);
    } else {
      const std::vector<int> seeds = shard_seeds(o.shard, 0, o.chain.seeds);
      ExperimentOutcome outcome;
      if (!seeds.empty()) outcome = run_experiment(o.chain, raw.at(o.chain.dataset), run_dir, ctx, seeds);
      if (!o.shard) {
        write_report(run_dir, o.chain, outcome, device_text);
        std::printf("\n%s", summary_table(outcome.results).c_str());
        if (o.chain.control) std::printf("\nrefined vs control:\n%s", control_table(o.chain, outcome).c_str());
      }
    }
  } catch (const Interrupted&) {
    std::fprintf(stderr, "\ninterrupted: completed epochs are saved; continue with\n  refine_app --resume %s\n",
                 run_dir.string().c_str());
    return 130;
  }
  if (o.shard)
    std::printf("\nshard %d/%d done: %s\nonce all %d shards are, combine them with\n  refine_app merge SHARD_RUN_DIR... --out DIR\n",
                o.shard->index, o.shard->count, run_dir.string().c_str(), o.shard->count);
  else
    std::printf("\nreport: %s\n", (run_dir / (o.table1 ? "table1.md" : "report.html")).string().c_str());
  return 0;
}

int run_model_command(int argc, char** argv) {
  const ModelCommand c = parse_model_command(argc, argv);
  if (c.help) {
    std::fputs(model_commands_help().c_str(), stdout);
    return 0;
  }
  if (c.threads > 0) omp_set_num_threads(c.threads);
  if (c.name == "export") return run_export(c, std::cout);
  const Device device = choose_device(c.device);
  if (c.name == "predict") return run_predict(c, device, std::cout, std::cerr);
  return run_evaluate(c, device, data_location("", cache_root(c.cache_dir)), std::cout);
}

int run(int argc, char** argv) {
  Options o = parse_command_line(argc, argv);
  if (o.help) {
    std::fputs(help_text().c_str(), stdout);
    return 0;
  }
  if (!o.resume.empty()) load_run_record(o, o.resume);
  const Device device = choose_device(o.device);
  resolve_device_flags(o, device, !o.resume.empty());
  return execute(o, device, device_name(device), argc, argv);
}

// refine_app merge: the shards' cells linked into a new run directory, which is then finished
// like a --resume: nothing is left to train, so that writes the reports. It computes on the
// CPU (a merge job needs no GPU); the reports name the device the shards trained on.
int merge(int argc, char** argv) {
  const MergeOptions m = parse_merge_command_line(argc - 1, argv + 1);
  if (m.help) {
    std::fputs(merge_help_text().c_str(), stdout);
    return 0;
  }
  if (fs::exists(m.out) && !(fs::is_directory(m.out) && fs::is_empty(m.out)))
    throw UsageError("merge --out " + m.out.string() + ": exists and is not an empty directory; merge into a new one");
  const MergePlan plan = plan_merge(m.shards);
  fs::create_directories(m.out);
  link_cells(plan, m.out);
  Json record = plan.record;
  record["command"] = std::vector<std::string>(argv, argv + argc);
  write_file_atomic(m.out / "config.json", record.dump() + "\n");
  std::printf("merged %zu shard(s), %zu cells, into %s\n", m.shards.size(), plan.cells.size(), m.out.string().c_str());
  Options o;
  o.resume = m.out.string();
  o.chain.data_dir = m.data_dir;
  o.cache_dir = m.cache_dir;
  load_run_record(o, m.out);
  try {
    return execute(o, Device::CPU, o.device, argc, argv);
  } catch (const std::exception& e) {
    throw Error(std::string(e.what()) + "\n(the merged run directory is complete: refine_app --resume " +
                m.out.string() + " --data DIR writes its reports once the dataset is found)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    // Subcommands first: `refine_app merge ...`, `refine_app predict|evaluate|export ...`.
    if (argc > 1 && std::string(argv[1]) == "merge") return merge(argc, argv);
    if (argc > 1 && is_model_command(argv[1])) return run_model_command(argc, argv);
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "refine_app: %s\n(refine_app --help lists every flag)\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nrefine_app: error: %s\n", e.what());
    return 1;
  }
}
