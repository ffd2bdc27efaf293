// The blog's Keras ResNet50 configuration (conv bias, batch norm momentum 0.01 / eps 1.001e-5,
// glorot init, 7x7/2 stem + 3x3/2 max pool, bottleneck blocks with the stride on the first 1x1,
// projection and identity shortcuts, a last stage at 1x1) at toy size, trained by our Trainer
// for 20 Adam steps from PyTorch's initial weights on PyTorch's batches, against the golden
// trajectory bench/make_trajectory_golden.py made with PyTorch (issue 11): step losses,
// parameters, running statistics and eval-mode logits.
//
// Tolerances: the golden script also trains in float64 and prints how far PyTorch's own float32
// run lands from it; ours must land about as close to PyTorch as that. Two quantities are noisy
// by nature. A conv bias followed by batch norm has a gradient that is exactly zero in exact
// arithmetic, so in float32 it is rounding noise, which Adam normalizes into steps of up to lr:
// those biases random-walk (PyTorch's float32 run: up to 6.8e-3 from float64, which keeps
// them at 0) and the running means, which average them in, inherit part of the walk. Eval mode
// sees that walk (the bias moves, its running average lags), so eval logits get a tolerance
// relative to their size.
// The run also has two float32 trajectories: scaling a third of the initial weights by 1 - 1e-7 and
// a third by 1 + 1e-7 (below any implementation's rounding choice), or running on 14, 16 or 32
// threads instead of 1-13 or 15, moves every later step onto a second one, measured on this
// project's machine (2026-11-28): step losses 4.6e-4 from PyTorch's instead of 2.6e-5, weights
// 2.8e-4 instead of 1.5e-4, running variances 5.6e-5 instead of 1.9e-6. PyTorch's own float32 run
// does the same (that perturbation at 3e-7 or 1e-6: its step losses 4.61e-4 from its unperturbed
// run, from step 10 on; bench/trajectory_sensitivity.py), so it is the network's, not ours. The
// tolerances admit both trajectories: a test that passes on 2 threads and fails on 16 tests the
// rounding, not the code.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "train/batch_tensors.h"
#include "train/trainer.h"

using namespace rf;

namespace {

const SafetensorsFile& golden() {
  static const SafetensorsFile f =
      SafetensorsFile::read(std::string(RF_TEST_FIXTURES_DIR) + "/blog_trajectory.safetensors");
  return f;
}

// The blog's configuration from the factory, at the golden's toy size.
std::unique_ptr<models::Model> toy_blog_resnet() {
  models::ResNetConfig c = models::resnet_config("resnet50", 10, 3);
  c.stem_width = 8;
  c.blocks = {2, 1, 1};
  c.widths = {4, 8, 16};
  auto m = std::make_unique<models::Model>("resnet50-toy", 10, 3,
                                           std::make_unique<models::ResNet>(c, 0));
  models::NamedTensors init;
  for (const auto& [name, t] : m->state()) init.emplace_back(name, golden().tensor("init." + name));
  m->load_state(init);
  return m;
}

// The golden's pixel values (0..255, stored as float32) as a dataset with its soft labels.
data::Dataset dataset(const std::string& name) {
  const std::vector<float> px = golden().tensor(name).to_host();
  data::Dataset d;
  d.name = name;
  d.height = d.width = int(golden().shape(name)[1]);
  d.channels = 3;
  for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
  d.labels.assign(size_t(golden().shape(name)[0]), 0);
  d.images.resize(px.size());
  std::transform(px.begin(), px.end(), d.images.begin(), [](float v) { return uint8_t(v); });
  return d;
}

data::SoftLabels train_targets() {
  data::SoftLabels s;
  s.rows = size_t(golden().shape("train_targets")[0]);
  s.classes = 10;
  s.values = golden().tensor("train_targets").to_host();
  return s;
}

data::LoaderOptions in_file_order(size_t batch) {
  data::LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = false;
  o.workers = 0;
  return o;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - b[i]));
  return d;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, std::abs(double(v)));
  return m;
}

// "stage1.block0.conv2.bias" and the like: a conv bias that a batch norm follows.
bool is_conv_bias(const std::string& name) {
  return name.ends_with(".bias") && name.find("conv") != std::string::npos;
}

}  // namespace

TEST_CASE("the blog's ResNet configuration trains along PyTorch's trajectory and evaluates as it does") {
  const data::Dataset train_set = dataset("train_pixels");
  const data::SoftLabels soft = train_targets();
  data::Loader loader(train_set, in_file_order(32), &soft);

  SUBCASE("the first forward pass (train mode, initial weights) gives PyTorch's logits") {
    auto m = toy_blog_resnet();
    loader.start_epoch(0);
    const data::BatchPtr b = loader.next();
    NoGrad no_grad;
    const std::vector<float> logits = m->forward(Variable(train::batch_images(*b, Device::CPU))).value().to_host();
    const std::vector<float> want = golden().tensor("step1_logits").to_host();
    const double err = max_abs_diff(logits, want);
    MESSAGE("step-1 logits max |ours - PyTorch| = " << err << " (max |logit| " << max_abs(want) << ")");
    CHECK(err < 5e-5);  // float32 vs float64: 1.6e-5; ours 1.7-1.9e-5
  }

  SUBCASE("20 Adam steps: losses, parameters, running statistics, eval-mode logits") {
    auto m = toy_blog_resnet();
    train::TrainConfig c;
    c.epochs = 5;
    c.optimizer.kind = train::OptimizerConfig::Kind::Adam;  // the blog recipe's: eps 1e-7 default
    c.schedule.lr = 1e-3;
    c.print_progress = false;
    c.progress_seconds = 0;  // on_batch after every step
    train::Trainer trainer(*m, c, int64_t(loader.batches_per_epoch()));
    // The trainer reports running epoch means; with equal batches each step's loss follows.
    std::vector<double> step_losses;
    double previous_mean = 0;
    trainer.on_batch([&](const train::BatchProgress& p) {
      step_losses.push_back(p.loss * double(p.batch) - previous_mean * double(p.batch - 1));
      previous_mean = p.loss;
    });
    trainer.fit(loader, nullptr);

    const std::vector<float> want_losses = golden().tensor("step_losses").to_host();
    REQUIRE(step_losses.size() == want_losses.size());
    double loss_err = 0;
    for (size_t i = 0; i < step_losses.size(); ++i)
      loss_err = std::max(loss_err, std::abs(step_losses[i] - want_losses[i]));
    MESSAGE("step losses max |ours - PyTorch| = " << loss_err);
    CHECK(loss_err < 1e-3);  // float32 vs float64: 2.7e-5 on losses ~2-3; ours 2.6e-5 or 4.6e-4

    double weight_err = 0, bias_err = 0, mean_err = 0, var_err = 0;
    for (const auto& [name, t] : m->state()) {
      const double d = max_abs_diff(t.to_host(), golden().tensor("final." + name).to_host());
      INFO(name << ": max |ours - PyTorch| " << d);
      if (name.ends_with("running_mean")) {
        mean_err = std::max(mean_err, d);
        CHECK(d < 1e-2);  // float32 vs float64: 8.3e-4 (the conv-bias walk); ours 0.9-1.4e-3
      } else if (name.ends_with("running_var")) {
        var_err = std::max(var_err, d);
        CHECK(d < 2e-4);  // float32 vs float64: 1.9e-6; ours 2-5e-6 or 5.6e-5
      } else if (is_conv_bias(name)) {
        bias_err = std::max(bias_err, d);
        CHECK(d < 4e-2);  // two walks of 20 steps of about lr 1e-3 at most; ours 7e-3-1.2e-2
      } else {
        weight_err = std::max(weight_err, d);
        CHECK(d < 5e-4);  // float32 vs float64: 5.5e-5; ours 0.7-2.8e-4; the weights moved 0.007-0.02
      }
    }
    MESSAGE("final state max |ours - PyTorch|: weights " << weight_err << ", conv biases " << bias_err
                                                         << ", running means " << mean_err
                                                         << ", running variances " << var_err);

    const data::Dataset eval_set = dataset("eval_pixels");
    data::Loader eval_loader(eval_set, in_file_order(eval_set.size()));
    eval_loader.start_epoch(0);
    const data::BatchPtr b = eval_loader.next();
    m->set_training(false);
    NoGrad no_grad;
    const std::vector<float> logits = m->forward(Variable(train::batch_images(*b, Device::CPU))).value().to_host();
    const std::vector<float> want = golden().tensor("eval_logits").to_host();
    const double eval_err = max_abs_diff(logits, want);
    MESSAGE("eval logits max |ours - PyTorch| = " << eval_err << " (max |logit| " << max_abs(want) << ")");
    // float32 vs float64: 0.0055 on logits up to 0.087; ours 0.005-0.008.
    CHECK(eval_err < 0.25 * max_abs(want));
  }
}
