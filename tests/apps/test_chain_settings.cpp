// Chain settings that change how, not what, a chain computes, each against the chain without it:
// - --precision bf16 reaches every model of a chain: on the CPU (whose bf16 ops round every
//   stored activation as the GPU's do) a dynamic chain trains differently from its float32 run
//   (the bf16 path is taken, by the generations and by the labeler that labels R2's batches) and
//   as well, within bf16 rounding (measured: losses within 0.1%).
// - --eval-batch-size: validation, test and labels in other batches than training's give the
//   same results (eval mode treats every image alone).
// - --concurrent-backward (ChainConfig::concurrent_backward): the CPU backend holds the work it
//   is given to run concurrently until the join, the latest moment allowed, so a chain with it
//   repeats the chain without it bitwise only if every dependency is kept; run_experiment turns
//   it back off when it returns.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "apps/chain.h"
#include "apps/experiment_data.h"
#include "apps/run_dir.h"
#include "data/soft_labels.h"
#include "engine/backend.h"
#include "tiny_chain.h"

namespace fs = std::filesystem;
using namespace rf;

namespace {

void check_bf16_chain(const std::string& refine) {
  data::TrainTest raw{test::synthetic(192, 1), test::synthetic(64, 2)};
  app::ChainConfig c = test::tiny_chain_config(refine);
  c.epochs = 2;
  c.batch_size = 32;
  c.precise_bn = 2;
  c.precision = "fp32";
  app::ChainConfig bf16 = c;
  bf16.precision = "bf16";
  const fs::path root = fs::temp_directory_path() / ("rf_precision_" + refine + "_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "fp32");
  fs::create_directories(root / "bf16");
  const app::ExperimentOutcome f = app::run_experiment(c, raw, root / "fp32", app::RunContext{Device::CPU}, {0});
  const app::ExperimentOutcome b = app::run_experiment(bf16, raw, root / "bf16", app::RunContext{Device::CPU}, {0});
  for (int g = 1; g <= c.generations; ++g) {
    CAPTURE(g);
    const auto ef = test::epochs_of(app::generation_paths(root / "fp32", 0, g).metrics);
    const auto eb = test::epochs_of(app::generation_paths(root / "bf16", 0, g).metrics);
    REQUIRE(ef.size() == eb.size());
    // R1's first epoch is the same network on the same batches, so only bf16 can make it differ;
    // R2 differs also through R1's labels (static) or R1 labeling each batch (dynamic).
    CHECK(eb[0].train_loss != ef[0].train_loss);
    for (size_t e = 0; e < ef.size(); ++e) {
      std::printf("%s R%d epoch %zu: train loss float32 %.5f bf16 %.5f, val loss %.5f / %.5f\n", refine.c_str(), g,
                  e + 1, ef[e].train_loss, eb[e].train_loss, ef[e].val_loss, eb[e].val_loss);
      CHECK(std::abs(eb[e].train_loss - ef[e].train_loss) < 0.02 * ef[e].train_loss);
    }
    const auto& rf32 = f.results[0][size_t(g - 1)];
    const auto& rb16 = b.results[0][size_t(g - 1)];
    CHECK(std::abs(rb16.test_accuracy - rf32.test_accuracy) <= 0.1);
  }
  fs::remove_all(root);
}

}  // namespace

TEST_CASE("--precision bf16, dynamic chain: generations and labeler in bf16, as good as float32") {
  check_bf16_chain("dynamic");
}

TEST_CASE("--eval-batch-size: validation, test accuracy and refined labels as with training-sized batches") {
  data::TrainTest raw{test::synthetic(192, 1), test::synthetic(64, 2)};
  app::ChainConfig c = test::tiny_chain_config("static");
  c.epochs = 1;
  c.batch_size = 32;
  c.precise_bn = 2;
  app::ChainConfig other = c;
  other.eval_batch_size = 7;  // many short passes, a ragged last one
  const fs::path root = fs::temp_directory_path() / ("rf_eval_batch_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "train-sized");
  fs::create_directories(root / "other");
  const app::ExperimentOutcome a = app::run_experiment(c, raw, root / "train-sized", app::RunContext{Device::CPU}, {0});
  const app::ExperimentOutcome b = app::run_experiment(other, raw, root / "other", app::RunContext{Device::CPU}, {0});
  const data::Dataset train = app::prepare_chain_data(c, raw, c.seed).train;
  for (int g = 1; g <= c.generations; ++g) {
    CAPTURE(g);
    const auto& ra = a.results[0][size_t(g - 1)];
    const auto& rb = b.results[0][size_t(g - 1)];
    CHECK(rb.test_accuracy == ra.test_accuracy);
    CHECK(rb.val_accuracy == ra.val_accuracy);
    const auto ea = test::epochs_of(app::generation_paths(root / "train-sized", 0, g).metrics);
    const auto eb = test::epochs_of(app::generation_paths(root / "other", 0, g).metrics);
    REQUIRE(ea.size() == eb.size());
    CHECK(eb.back().val_loss == doctest::Approx(ea.back().val_loss).epsilon(1e-5));
    const data::SoftLabels la = data::load_soft_labels(app::generation_paths(root / "train-sized", 0, g).labels, train);
    const data::SoftLabels lb = data::load_soft_labels(app::generation_paths(root / "other", 0, g).labels, train);
    double worst = 0;
    for (size_t i = 0; i < la.values.size(); ++i) worst = std::max(worst, double(std::abs(la.values[i] - lb.values[i])));
    std::printf("eval batch 7 vs 32, R%d: labels differ by at most %.3g\n", g, worst);
    CHECK(worst < 1e-5);
  }
  fs::remove_all(root);
}

TEST_CASE("--concurrent-backward: a chain repeats the chain without it bitwise; the backend is left as it was") {
  data::TrainTest raw{test::synthetic(192, 1), test::synthetic(64, 2)};
  app::ChainConfig c = test::tiny_chain_config("dynamic");
  c.epochs = 1;
  c.batch_size = 32;
  c.precise_bn = 2;
  app::ChainConfig concurrent = c;
  concurrent.concurrent_backward = true;
  const fs::path root = fs::temp_directory_path() / ("rf_concurrent_backward_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "in-order");
  fs::create_directories(root / "concurrent");
  REQUIRE_FALSE(cpu_backend().concurrency());
  const app::ExperimentOutcome a = app::run_experiment(c, raw, root / "in-order", app::RunContext{Device::CPU}, {0});
  const app::ExperimentOutcome b =
      app::run_experiment(concurrent, raw, root / "concurrent", app::RunContext{Device::CPU}, {0});
  CHECK_FALSE(cpu_backend().concurrency());
  const data::Dataset train = app::prepare_chain_data(c, raw, c.seed).train;
  for (int g = 1; g <= c.generations; ++g) {
    CAPTURE(g);
    CHECK(b.results[0][size_t(g - 1)].test_accuracy == a.results[0][size_t(g - 1)].test_accuracy);
    const auto ea = test::epochs_of(app::generation_paths(root / "in-order", 0, g).metrics);
    const auto eb = test::epochs_of(app::generation_paths(root / "concurrent", 0, g).metrics);
    REQUIRE(ea.size() == eb.size());
    for (size_t e = 0; e < ea.size(); ++e) {
      CHECK(eb[e].train_loss == ea[e].train_loss);
      CHECK(eb[e].val_loss == ea[e].val_loss);
    }
    const data::SoftLabels la = data::load_soft_labels(app::generation_paths(root / "in-order", 0, g).labels, train);
    const data::SoftLabels lb = data::load_soft_labels(app::generation_paths(root / "concurrent", 0, g).labels, train);
    CHECK(la.values == lb.values);
  }
  fs::remove_all(root);
}
