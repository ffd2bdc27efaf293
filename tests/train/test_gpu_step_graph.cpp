// Recorded CUDA graphs against eager steps (issue 8): the same training, from the same weights on
// the same batches, with TF32 off and deterministic algorithms, once eagerly and once with every
// full batch's step replayed from a graph, must give the same per-epoch losses and accuracies and
// the same parameters and running statistics, bit for bit. The run includes a short last batch
// (eager inside a graphed run) and, every epoch, a validation pass of larger batches (recorded in
// the graphed run), which may grow scratch buffers the step's graph uses (it must then be recorded
// again, not replayed on freed memory), after precise batch-norm statistics over 5 batches (recorded too, in the graphed run).
// Again with a target provider as the dynamic refinery's: a frozen teacher in eval mode labels
// every batch, inside the recorded step. And evaluation and labeling passes (train/evaluate.h),
// recorded and replayed, against the same passes run eagerly; and the first run again with bf16
// activations (--precision bf16). And with concurrent weight gradients (Backend::set_concurrency:
// each convolution's weight gradient on a second stream), eager and graphed, in float32 and bf16:
// the same kernels on another stream, so the same bits as without. Runs only where a GPU is usable.
#include <doctest/doctest.h>

#include <cstdio>
#include <vector>

#include "data/loader.h"
#include "engine/ops.h"
#include "models/factory.h"
#include "synthetic.h"
#include "train/evaluate.h"
#include "train/trainer.h"

using namespace rf;
using namespace rf::train;

namespace {

struct Outcome {
  std::vector<EpochStats> history;
  std::vector<std::vector<float>> state;
};

// teacher: label every batch with softmax(teacher(images)) mixed half and half with the batch's
// own targets, as --refine dynamic --alpha 0.5 does.
Outcome run_training(bool graphs, models::Model* teacher = nullptr, DType activations = DType::F32) {
  const data::Dataset set = test::synthetic_dataset(150, 0);  // 9 batches of 16 and one of 6
  const data::Dataset val = test::synthetic_dataset(300, 1);  // 3 batches of 96 and one of 12
  data::LoaderOptions vo = test::loader_options(false);
  vo.batch_size = 96;
  data::Loader loader(set, test::loader_options(true)), val_loader(val, vo);
  data::Loader statistics_loader(set, test::loader_options(true));
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 5, .device = Device::CUDA});
  model->set_activation_dtype(activations);
  TrainConfig c;
  c.epochs = 3;
  c.print_progress = false;
  c.cuda_graphs = graphs;
  c.optimizer.kind = OptimizerConfig::Kind::Adam;
  c.schedule.lr = 1e-3;
  c.precise_bn_batches = 5;
  c.statistics_loader = &statistics_loader;
  Trainer t(*model, c, int64_t(loader.batches_per_epoch()));
  if (teacher) {
    teacher->set_training(false);
    t.set_target_provider([teacher](const Tensor& images, const Tensor& truth) {
      const Variable p = softmax(teacher->forward(Variable(images)));
      return add(scale(p, 0.5f), scale(Variable(truth), 0.5f)).value();
    });
  }
  Outcome o;
  o.history = t.fit(loader, &val_loader).history;
  for (const auto& [name, tensor] : model->state()) o.state.push_back(tensor.to_host());
  return o;
}

}  // namespace

TEST_CASE("graph replay gives the eager run's losses, accuracies and parameters bitwise") {
  cuda_backend().set_allow_tf32(false);
  cuda_backend().set_deterministic(true);
  const Outcome eager = run_training(false), again = run_training(false), graphed = run_training(true);
  REQUIRE(eager.history.size() == 3);
  // The baseline repeats itself, so any difference below is the graphs'.
  for (size_t e = 0; e < eager.history.size(); ++e) {
    CAPTURE(e);
    CHECK(again.history[e].train_loss == eager.history[e].train_loss);
    CHECK(graphed.history[e].train_loss == eager.history[e].train_loss);
    CHECK(graphed.history[e].train_accuracy == eager.history[e].train_accuracy);
    CHECK(graphed.history[e].val_loss == eager.history[e].val_loss);
    std::printf("epoch %zu: train loss eager %.9g graphed %.9g, val loss eager %.9g graphed %.9g\n", e + 1,
                eager.history[e].train_loss, graphed.history[e].train_loss, eager.history[e].val_loss,
                graphed.history[e].val_loss);
  }
  REQUIRE(graphed.state.size() == eager.state.size());
  for (size_t i = 0; i < eager.state.size(); ++i) {
    CAPTURE(i);
    CHECK(graphed.state[i] == eager.state[i]);
  }
  cuda_backend().set_deterministic(false);
}

TEST_CASE("a frozen teacher's targets, recorded inside the step, replay bitwise too") {
  cuda_backend().set_allow_tf32(false);
  cuda_backend().set_deterministic(true);
  auto teacher = models::make_model("resnet8", {.classes = 3, .seed = 9, .device = Device::CUDA});
  const Outcome plain = run_training(false);
  const Outcome eager = run_training(false, teacher.get()), graphed = run_training(true, teacher.get());
  REQUIRE(eager.history.size() == 3);
  // The teacher's labels change the training (else the provider was not used).
  CHECK(eager.history[0].train_loss != plain.history[0].train_loss);
  for (size_t e = 0; e < eager.history.size(); ++e) {
    CAPTURE(e);
    CHECK(graphed.history[e].train_loss == eager.history[e].train_loss);
    CHECK(graphed.history[e].val_loss == eager.history[e].val_loss);
    std::printf("teacher, epoch %zu: train loss eager %.9g graphed %.9g\n", e + 1,
                eager.history[e].train_loss, graphed.history[e].train_loss);
  }
  REQUIRE(graphed.state.size() == eager.state.size());
  for (size_t i = 0; i < eager.state.size(); ++i) {
    CAPTURE(i);
    CHECK(graphed.state[i] == eager.state[i]);
  }
  cuda_backend().set_deterministic(false);
}

namespace {

// Losses, accuracies and the final state (parameters and running statistics), bit for bit.
void check_same(const Outcome& got, const Outcome& want) {
  REQUIRE(got.history.size() == want.history.size());
  for (size_t e = 0; e < want.history.size(); ++e) {
    CAPTURE(e);
    CHECK(got.history[e].train_loss == want.history[e].train_loss);
    CHECK(got.history[e].train_accuracy == want.history[e].train_accuracy);
    CHECK(got.history[e].val_loss == want.history[e].val_loss);
  }
  REQUIRE(got.state.size() == want.state.size());
  for (size_t i = 0; i < want.state.size(); ++i) {
    CAPTURE(i);
    CHECK(got.state[i] == want.state[i]);
  }
}

}  // namespace

TEST_CASE("with bf16 activations (--precision bf16) graph replay is bitwise the eager run too") {
  cuda_backend().set_allow_tf32(false);
  cuda_backend().set_deterministic(true);
  const Outcome fp32 = run_training(false);
  const Outcome eager = run_training(false, nullptr, DType::BF16), graphed = run_training(true, nullptr, DType::BF16);
  REQUIRE(eager.history.size() == 3);
  CHECK(eager.history[0].train_loss != fp32.history[0].train_loss);  // bf16 really was used
  check_same(graphed, eager);
  cuda_backend().set_deterministic(false);
}

TEST_CASE("recorded evaluation and labeling passes give the eager passes' results bitwise") {
  cuda_backend().set_allow_tf32(false);
  cuda_backend().set_deterministic(true);
  // A trained model, so that predictions differ from image to image.
  const data::Dataset set = test::synthetic_dataset(150, 0);
  data::Loader train_loader(set, test::loader_options(true));
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 5, .device = Device::CUDA});
  TrainConfig c;
  c.epochs = 2;
  c.print_progress = false;
  c.schedule.lr = 1e-2;
  Trainer(*model, c, int64_t(train_loader.batches_per_epoch())).fit(train_loader, nullptr);

  // 200 images in shuffled batches of 48: four full ones (eager, recorded, replays) and one of 8.
  const data::Dataset d = test::synthetic_dataset(200, 3);
  data::LoaderOptions o = test::loader_options(true);
  o.batch_size = 48;
  data::Loader loader(d, o);
  const RecordedStep::Recorder graphs = backend_recorder(Device::CUDA);
  const Evaluation eager = evaluate(*model, loader), replayed = evaluate(*model, loader, graphs);
  CHECK(replayed.loss == eager.loss);
  CHECK(replayed.confusion.counts() == eager.confusion.counts());
  CHECK(eager.accuracy() > 0.5);  // a model that learned, whose predictions mean something
  std::printf("evaluation: loss eager %.9g replayed %.9g, accuracy %.4f\n", eager.loss, replayed.loss,
              eager.accuracy());
  const data::SoftLabels want = predict_probabilities(*model, loader, d.size(), 2.f);
  const data::SoftLabels got = predict_probabilities(*model, loader, d.size(), 2.f, graphs);
  CHECK(got.values == want.values);
  const data::SoftLabels want_logits = predict_logits(*model, loader, d.size());
  const data::SoftLabels got_logits = predict_logits(*model, loader, d.size(), graphs);
  CHECK(got_logits.values == want_logits.values);
  cuda_backend().set_deterministic(false);
}

namespace {

// Eager without concurrency is the baseline; eager and graphed with it must repeat it bitwise.
// The backend is shared by the process: concurrency ends off whatever happens.
void check_concurrent_training(DType activations) {
  cuda_backend().set_allow_tf32(false);
  cuda_backend().set_deterministic(true);
  const Outcome plain = run_training(false, nullptr, activations);
  struct Off {
    ~Off() {
      try {
        cuda_backend().set_concurrency(false);
      } catch (const std::exception& e) {
        FAIL_CHECK("set_concurrency(false) threw: " << e.what());
      }
    }
  } off;
  cuda_backend().set_concurrency(true);
  const Outcome eager = run_training(false, nullptr, activations);
  CHECK(cuda_backend().concurrency());  // the training did not turn it off: it was exercised
  const Outcome graphed = run_training(true, nullptr, activations);
  CHECK(cuda_backend().concurrency());
  REQUIRE(plain.history.size() == 3);
  for (size_t e = 0; e < plain.history.size(); ++e)
    std::printf("%s, epoch %zu: train loss plain %.9g, concurrent eager %.9g graphed %.9g\n",
                activations == DType::BF16 ? "bf16" : "fp32", e + 1, plain.history[e].train_loss,
                eager.history[e].train_loss, graphed.history[e].train_loss);
  {
    INFO("concurrent eager vs plain eager");
    check_same(eager, plain);
  }
  {
    INFO("concurrent graphed vs plain eager");
    check_same(graphed, plain);
  }
  cuda_backend().set_deterministic(false);
}

}  // namespace

TEST_CASE("concurrent weight gradients, eager and graphed, give the plain eager run's bits") {
  check_concurrent_training(DType::F32);
}

TEST_CASE("with bf16 activations concurrent weight gradients give the plain run's bits too") {
  check_concurrent_training(DType::BF16);
}
