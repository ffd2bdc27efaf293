// How many training images precise batch-norm statistics need: a chain's trained model evaluated
// on its test split after recomputing the statistics from N training batches, for several N and
// several draws of the batches. The generation's training split is rebuilt from the run's
// config.json as the chain built it. README's table of `--precise-bn` comes from this tool.
//
//   precise_bn_sweep RUN_DIR/seedK/genG N[,N...] [DRAWS (default 3)]
//
// N = 0 evaluates the statistics the model file holds (as the chain left them).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "apps/experiment_data.h"
#include "apps/file_io.h"
#include "data/loader.h"
#include "engine/check.h"
#include "engine/json.h"
#include "models/model_file.h"
#include "train/batchnorm_statistics.h"
#include "train/evaluate.h"

namespace fs = std::filesystem;
using namespace rf;

namespace {

std::vector<int> parse_counts(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    std::size_t used = 0;
    int n = -1;
    try {
      n = std::stoi(item, &used);
    } catch (const std::exception&) {
    }
    RF_CHECK(n >= 0 && used == item.size(), "batch counts: '" << item << "' is not a count >= 0");
    out.push_back(n);
  }
  RF_CHECK(!out.empty(), "batch counts: none given");
  return out;
}

struct Range {
  double lo = 1e300, hi = -1e300;
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
};

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: precise_bn_sweep RUN_DIR/seedK/genG N[,N...] [DRAWS]\n");
    return 2;
  }
  const fs::path gen_dir = fs::path(argv[1]).lexically_normal() / "";
  const fs::path seed_dir = gen_dir.parent_path().parent_path();
  const fs::path run_dir = seed_dir.parent_path();
  const std::string seed_name = seed_dir.filename().string();
  RF_CHECK(seed_name.rfind("seed", 0) == 0, argv[1] << ": not a run's seedK/genG directory");
  const int seed_index = std::stoi(seed_name.substr(4));
  const std::vector<int> counts = parse_counts(argv[2]);
  const int draws = argc == 4 ? std::stoi(argv[3]) : 3;
  RF_CHECK(draws >= 1, "DRAWS must be at least 1");

  const fs::path config_file = run_dir / "config.json";
  const app::ChainConfig c = read_json(config_file.string(), [&] {
    return app::ChainConfig::from_json(parse_json(app::read_text_file(config_file), config_file.string()).at("chain"));
  });
  const data::TrainTest raw = app::load_experiment_data(c, app::data_location(c.data_dir, app::cache_root("")));
  const app::ChainData d = app::prepare_chain_data(c, raw, c.seed + std::uint64_t(seed_index));
  const fs::path model_file = gen_dir / "model.safetensors";
  std::printf("%s: %zu training images, batch %d, %zu test images\n\n", model_file.c_str(), d.train.size(),
              c.batch_size, d.test.size());
  std::printf("| batches | images | test accuracy %% (%d draws) | test loss |\n|---|---|---|---|\n", draws);
  for (const int n : counts) {
    Range accuracy, loss;
    int used = 0;
    for (int draw = 1; draw <= (n == 0 ? 1 : draws); ++draw) {
      auto model = models::load_described_model(model_file, Device::CPU, "precise_bn_sweep");
      data::Loader statistics(d.train, app::statistics_loader_options(c, d.normalization, Device::CPU,
                                                                      std::uint64_t(draw), d.train.size()));
      if (n > 0) used = train::recompute_batchnorm_statistics(*model, statistics, n);
      data::Loader test(d.test, app::eval_loader_options(c, d.normalization, Device::CPU));
      const train::Evaluation e = train::evaluate(*model, test);
      accuracy.add(100 * e.accuracy());
      loss.add(e.loss);
    }
    const std::string images = n == 0 ? "(the file's)" : std::to_string(used * c.batch_size);
    std::printf("| %d | %s | %.2f-%.2f | %.4f-%.4f |\n", used, images.c_str(), accuracy.lo, accuracy.hi, loss.lo,
                loss.hi);
    std::fflush(stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "precise_bn_sweep: %s\n", e.what());
  return 1;
}
