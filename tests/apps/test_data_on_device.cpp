// --data-on-device on the CPU backend: the same chains as with the host loader, bit for bit. The
// resident dataset makes each batch with the loader's own per-image kernel, so a static chain
// (pad-crop-flip, soft labels gathered by index) and a dynamic one (Keras warps, the labeler's
// targets mixed with the truth, alpha 0.5) must give identical per-epoch metrics and identical
// refined labels. The GPU's version of this is in test_gpu_chain_equivalence.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "apps/chain.h"
#include "apps/experiment_data.h"
#include "apps/run_dir.h"
#include "data/soft_labels.h"
#include "tiny_chain.h"

namespace fs = std::filesystem;
using namespace rf;

namespace {

void check_same_chain(const std::string& refine, const std::string& augment, double alpha) {
  data::TrainTest raw{test::synthetic(192, 1), test::synthetic(64, 2)};
  app::ChainConfig c = test::tiny_chain_config(refine);
  c.epochs = 1;
  c.batch_size = 32;
  c.augment = augment;
  c.alpha = alpha;
  c.precise_bn = 2;
  app::ChainConfig on_device = c;
  on_device.data_on_device = true;
  const fs::path root = fs::temp_directory_path() / ("rf_data_on_device_" + refine + "_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "host");
  fs::create_directories(root / "device");
  app::run_experiment(c, raw, root / "host", app::RunContext{Device::CPU}, {0});
  app::run_experiment(on_device, raw, root / "device", app::RunContext{Device::CPU}, {0});

  const data::Dataset train = app::prepare_chain_data(c, raw, c.seed).train;
  for (int g = 1; g <= c.generations; ++g) {
    CAPTURE(g);
    const app::GenerationPaths host = app::generation_paths(root / "host", 0, g);
    const app::GenerationPaths device = app::generation_paths(root / "device", 0, g);
    const auto eh = test::epochs_of(host.metrics), ed = test::epochs_of(device.metrics);
    REQUIRE(eh.size() == ed.size());
    for (size_t e = 0; e < eh.size(); ++e) {
      CHECK(ed[e].train_loss == eh[e].train_loss);
      CHECK(ed[e].train_accuracy == eh[e].train_accuracy);
      CHECK(ed[e].val_loss == eh[e].val_loss);
    }
    CHECK(data::load_soft_labels(device.labels, train).values == data::load_soft_labels(host.labels, train).values);
  }
  fs::remove_all(root);
}

}  // namespace

TEST_CASE("--data-on-device, static chain with pad-crop-flip: the host loader's results bitwise") {
  check_same_chain("static", "crop", 1.0);
}

TEST_CASE("--data-on-device, dynamic chain with Keras warps and alpha 0.5: the host loader's results bitwise") {
  check_same_chain("dynamic", "keras", 0.5);
}
