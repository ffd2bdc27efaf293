// Precise batch-norm statistics (train/batchnorm_statistics.h): the recomputed running mean and
// variance are the average of the batch statistics (checked against a double-precision loop on a
// network that is a single batch norm), recorded and replayed passes give the eager one's bits
// (stand_in_graph.h), nothing else in the model changes, and on a trained
// network whose running statistics were spoiled eval mode parts from training mode until the
// statistics are recomputed. The trainer recomputes them before validation when asked.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/check.h"
#include "models/factory.h"
#include "models/layers.h"
#include "stand_in_graph.h"
#include "synthetic.h"
#include "train/batchnorm_statistics.h"
#include "train/trainer.h"

using namespace rf;
using namespace rf::train;

namespace {

std::vector<float> buffer(const models::Model& m, const std::string& name) {
  for (const auto& [n, t] : m.state())
    if (n == name) return t.to_host();
  FAIL("no tensor named " << name);
  return {};
}

std::unique_ptr<models::Model> batchnorm_only(int channels, float momentum) {
  auto net = std::make_unique<models::Sequential>();
  net->add("bn", std::make_unique<models::BatchNorm2d>(channels, 1e-5f, momentum));
  return std::make_unique<models::Model>("bn-only", channels, channels, std::move(net));
}

std::unique_ptr<models::Model> trained_resnet8(data::Loader& train) {
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 3});
  TrainConfig c;
  c.epochs = 3;
  c.schedule.lr = 1e-2;
  c.print_progress = false;
  Trainer t(*model, c, int64_t(train.batches_per_epoch()));
  t.fit(train, nullptr);
  return model;
}

}  // namespace

TEST_CASE("precise statistics are the average of the batch means and unbiased variances") {
  const data::Dataset d = test::synthetic_dataset(40, 4);  // 8x8x3, batches of 16: 16, 16, 8
  data::Loader loader(d, test::loader_options(true));
  auto model = batchnorm_only(3, 0.01f);
  const int used = recompute_batchnorm_statistics(*model, loader, 100);
  CHECK(used == 3);

  // The same batches in the same order, statistics in double precision.
  std::vector<double> mean(3, 0), var(3, 0);
  loader.start_epoch(0);
  while (data::BatchPtr b = loader.next()) {
    const size_t rows = b->size * 64;
    for (int c = 0; c < 3; ++c) {
      double s = 0, ss = 0;
      for (size_t r = 0; r < rows; ++r) s += b->images[r * 3 + size_t(c)];
      const double m = s / double(rows);
      for (size_t r = 0; r < rows; ++r) ss += std::pow(b->images[r * 3 + size_t(c)] - m, 2);
      mean[size_t(c)] += m / used;
      var[size_t(c)] += ss / double(rows - 1) / used;
    }
  }
  const std::vector<float> got_mean = buffer(*model, "bn.running_mean");
  const std::vector<float> got_var = buffer(*model, "bn.running_var");
  for (int c = 0; c < 3; ++c) {
    CAPTURE(c);
    CHECK(got_mean[size_t(c)] == doctest::Approx(mean[size_t(c)]).epsilon(1e-5));
    CHECK(got_var[size_t(c)] == doctest::Approx(var[size_t(c)]).epsilon(1e-5));
  }
  // The layer's own momentum and the model's mode are back.
  model->visit_modules([](models::Module& m) {
    if (auto* bn = dynamic_cast<models::BatchNorm2d*>(&m)) CHECK(bn->momentum() == 0.01f);
  });
  CHECK(model->training());

  // At most max_batches are used.
  auto two = batchnorm_only(3, 0.01f);
  CHECK(recompute_batchnorm_statistics(*two, loader, 2) == 2);
  CHECK(buffer(*two, "bn.running_mean") != got_mean);
}

TEST_CASE("recorded and replayed, the statistics are the eager pass's, bit for bit") {
  // 100 images in batches of 16: six full batches (warm-up, recording, four replays) and a short
  // one (eager).
  const data::Dataset d = test::synthetic_dataset(100, 5);
  data::Loader loader(d, test::loader_options(false));
  auto eager = models::make_model("resnet8", {.classes = 3, .seed = 4});
  auto replayed = models::make_model("resnet8", {.classes = 3, .seed = 4});
  CHECK(recompute_batchnorm_statistics(*eager, loader, 100) == 7);
  test::StandInRecorder graphs;
  CHECK(recompute_batchnorm_statistics(*replayed, loader, 100, graphs.recorder()) == 7);
  CHECK(graphs.recordings == 1);
  CHECK(graphs.launches == 5);
  const models::NamedTensors want = eager->state(), got = replayed->state();
  int buffers = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(want[i].first);
    CHECK(got[i].second.to_host() == want[i].second.to_host());
    buffers += want[i].first.find("running_") != std::string::npos;
  }
  CHECK(buffers == 2 * 9);  // ResNet-8's nine batch norms (stem, 3 x 2 in blocks, 2 shortcuts)
}

TEST_CASE("spoiled running statistics part eval mode from training mode until recomputed") {
  const data::Dataset d = test::synthetic_dataset(96, 6);
  data::Loader train(d, test::loader_options(true));
  data::Loader eval(d, test::loader_options(false));
  auto model = trained_resnet8(train);

  const models::NamedTensors params_before = model->snapshot();
  // Statistics far from the weights' activations, as after a short run with a lagging average.
  for (auto& [name, t] : model->state())
    if (name.find("running_mean") != std::string::npos) t.fill_(3.f);
  const std::vector<float> spoiled = buffer(*model, "stem.bn.running_mean");

  const ModeAccuracy before = compare_batchnorm_modes(*model, eval, 100);
  CHECK(before.images == 96);
  CHECK(before.train_mode > 0.8);
  CHECK(before.parted());
  // Measuring in training mode left the running statistics exactly as they were.
  CHECK(buffer(*model, "stem.bn.running_mean") == spoiled);

  recompute_batchnorm_statistics(*model, train, 100);
  const ModeAccuracy after = compare_batchnorm_modes(*model, eval, 100);
  CAPTURE(after.train_mode);
  CAPTURE(after.eval_mode);
  CHECK_FALSE(after.parted());
  CHECK(after.eval_mode > 0.8);
  // Only buffers changed: every parameter is bitwise what it was.
  const models::NamedTensors now = model->snapshot();
  for (size_t i = 0; i < now.size(); ++i)
    if (now[i].first.find("running_") == std::string::npos)
      CHECK_MESSAGE(now[i].second.to_host() == params_before[i].second.to_host(), now[i].first);
}

TEST_CASE("the trainer recomputes the statistics before every validation, and at the end without one") {
  const data::Dataset d = test::synthetic_dataset(48, 0);
  const data::Dataset v = test::synthetic_dataset(24, 1);
  data::Loader train(d, test::loader_options(true));
  data::Loader val(v, test::loader_options(false));
  data::Loader stats(d, test::loader_options(true));
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 8});
  TrainConfig c;
  c.epochs = 2;
  c.schedule.lr = 1e-2;
  c.print_progress = false;
  c.precise_bn_batches = 2;
  c.statistics_loader = &stats;
  Trainer t(*model, c, int64_t(train.batches_per_epoch()));
  t.fit(train, &val);
  const std::vector<float> after_fit = buffer(*model, "stem.bn.running_var");
  recompute_batchnorm_statistics(*model, stats, 2);
  CHECK(buffer(*model, "stem.bn.running_var") == after_fit);

  // Without validation, fit() still ends with statistics of the final weights.
  auto no_val = models::make_model("resnet8", {.classes = 3, .seed = 8});
  Trainer(*no_val, c, int64_t(train.batches_per_epoch())).fit(train, nullptr);
  const std::vector<float> after_fit_no_val = buffer(*no_val, "stem.bn.running_var");
  recompute_batchnorm_statistics(*no_val, stats, 2);
  CHECK(buffer(*no_val, "stem.bn.running_var") == after_fit_no_val);

  TrainConfig missing = c;
  missing.statistics_loader = nullptr;
  CHECK_THROWS_WITH_AS(Trainer(*model, missing, 3), doctest::Contains("need a loader"), Error);
}
