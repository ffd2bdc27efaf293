// refine_app: the Label Refinery chain, its Table-1 grid, and the run directory a person reads;
// predict / evaluate / export apply a trained model file (model_command_line.h).
// Exit codes: 0 done, 1 error, 2 bad command line, 130 interrupted (resumable).
#include <omp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "apps/chain.h"
#include "apps/cli.h"
#include "apps/experiment_data.h"
#include "apps/file_io.h"
#include "apps/model_command_line.h"
#include "apps/model_commands.h"
#include "apps/report.h"
#include "apps/run_dir.h"
#include "apps/table1.h"
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

fs::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "refinery";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "refinery";
  return fs::path(".cache") / "refinery";
}

Json run_record(const Options& o, const std::string& device, int argc, char** argv) {
  const Json grid = o.table1 ? Json(o.table1->datasets) : Json();
  return Json::object({{"format", "refine_app-run-1"}, {"chain", o.chain.to_json()}, {"table1", grid}, {"device", device},
                       {"threads", o.threads}, {"command", std::vector<std::string>(argv, argv + argc)}});
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
  const fs::path cache = c.cache_dir.empty() ? default_cache_dir() : fs::path(c.cache_dir);
  return run_evaluate(c, device, DataLocation{"", cache / "decoded", cache / "datasets"}, std::cout);
}

int run(int argc, char** argv) {
  if (argc > 1 && is_model_command(argv[1])) return run_model_command(argc, argv);
  Options o = parse_command_line(argc, argv);
  if (o.help) {
    std::fputs(help_text().c_str(), stdout);
    return 0;
  }
  if (!o.resume.empty()) load_run_record(o, o.resume);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  const Device device = choose_device(o.device);
  const std::string device_name_text = device_name(device);
  const fs::path cache = o.cache_dir.empty() ? default_cache_dir() : fs::path(o.cache_dir);
  const DataLocation where{o.chain.data_dir, cache / "decoded", cache / "datasets"};

  // A single experiment loads its data before creating the run directory, so a missing dataset
  // leaves no empty run behind.
  data::TrainTest raw;
  if (!o.table1) raw = fetch_and_load(o.chain, where, o.download);

  fs::path run_dir;
  if (o.resume.empty()) {
    run_dir = create_run_dir(o.out, o.table1 ? "table1" : o.chain.dataset, o.chain.refine);
    write_file_atomic(run_dir / "config.json", run_record(o, device_name_text, argc, argv).dump() + "\n");
  } else {
    run_dir = o.resume;
  }
  std::printf("run directory: %s  (device %s)\n", run_dir.string().c_str(), device_name_text.c_str());

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const int cells = o.table1 ? 2 * int(o.table1->datasets.size()) : 1;
  RunProgress progress(cells * o.chain.seeds * o.chain.generations);
  const RunContext ctx{device, &g_stop, &progress};
  try {
    if (o.table1) {
      run_table1(o.chain, *o.table1, run_dir, where, o.download, ctx, device_name_text);
    } else {
      const ExperimentOutcome outcome = run_experiment(o.chain, raw, run_dir, ctx);
      write_report(run_dir, o.chain, outcome, device_name_text);
      std::printf("\n%s", summary_table(outcome.results).c_str());
    }
  } catch (const Interrupted&) {
    std::fprintf(stderr, "\ninterrupted: completed epochs are saved; continue with\n  refine_app --resume %s\n",
                 run_dir.string().c_str());
    return 130;
  }
  std::printf("\nreport: %s\n", (run_dir / (o.table1 ? "table1.md" : "report.html")).string().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "refine_app: %s\n(refine_app --help lists every flag)\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nrefine_app: error: %s\n", e.what());
    return 1;
  }
}
