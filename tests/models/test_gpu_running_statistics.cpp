// Batch-norm running statistics across backends: the same network, from the same weights, trained
// for 10-30 steps on the same batches on the CPU and on the GPU (TF32 off, deterministic),
// must end with the same running mean and variance in every batch-norm layer and the same
// eval-mode logits. Evaluation and refined labels use exactly these statistics, so a backend
// that drifted here would label differently while training looked the same. Models: the blog's
// ResNet50 at batch 250 and a CIFAR ResNet-20 at batch 128. Runs only where a GPU is usable.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/optimizer.h"
#include "models/factory.h"

using namespace rf;

namespace {

// The two backends differ by float rounding only (op table tolerances <= 1e-4 per op, TF32 off).
// Ten to thirty SGD steps at a small learning rate amplify that by far less than 100x, so a
// statistic or logit further than this from the CPU's is a defect, not rounding.
constexpr double kStatisticsTolerance = 2e-3;  // per layer, normalized to the layer's largest
constexpr double kLogitTolerance = 2e-3;       // normalized to the largest logit

struct Batch {
  std::vector<float> images, targets;
};

// Fixed pseudo-random 32x32 RGB batches, roughly zero mean and unit scale like normalized
// images, with one-hot targets; class k adds a bright stripe so the network has something to fit.
std::vector<Batch> make_batches(int count, int batch, int classes) {
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<Batch> out(static_cast<size_t>(count));
  for (Batch& b : out) {
    b.images.resize(size_t(batch) * 32 * 32 * 3);
    b.targets.assign(size_t(batch) * classes, 0.f);
    for (int i = 0; i < batch; ++i) {
      const int k = int(rng() % unsigned(classes));
      b.targets[size_t(i) * classes + k] = 1.f;
      for (int p = 0; p < 32 * 32 * 3; ++p) {
        const bool stripe = (p / (32 * 3)) % classes == k;
        b.images[size_t(i) * 32 * 32 * 3 + p] = noise(rng) + (stripe ? 1.5f : 0.f);
      }
    }
  }
  return out;
}

Tensor images_on(const Batch& b, int batch, Device d) {
  return Tensor::from_host(b.images, {batch, 32, 32, 3}, d);
}

// SGD, not the blog's Adam: Adam scales every coordinate's step to about the learning rate, so
// for gradients that are zero but for rounding (the blog's conv biases in front of batch norm)
// it turns each backend's float noise into different full-size steps, and those biases feed the
// running means. SGD keeps noise at the size of noise.
void train(models::Model& m, const std::vector<Batch>& batches, int batch, int classes, int steps) {
  const Device d = m.device();
  Sgd opt(m.parameters(), SgdParams{0.01f, 0.9f, 5e-4f, true});
  m.set_training(true);
  for (int s = 0; s < steps; ++s) {
    const Batch& b = batches[size_t(s) % batches.size()];
    m.parameters().zero_grad();
    Variable loss = softmax_cross_entropy(m.forward(Variable(images_on(b, batch, d))),
                                          Tensor::from_host(b.targets, {batch, classes}, d));
    loss.backward();
    opt.step();
  }
}

double normalized_error(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    err = std::max(err, std::abs(double(got[i]) - want[i]));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  return scale > 0 ? err / scale : err;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

void check_model(const std::string& name, int batch, int steps) {
  constexpr int kClasses = 10;
  const std::vector<Batch> batches = make_batches(4, batch, kClasses);
  const Batch held_out = make_batches(5, batch, kClasses).back();

  models::ModelOptions mo;
  mo.classes = kClasses;
  mo.seed = 3;
  auto cpu = models::make_model(name, mo);
  mo.device = Device::CUDA;
  auto gpu = models::make_model(name, mo);
  gpu->load_state(cpu->state());  // the same starting weights and statistics

  train(*cpu, batches, batch, kClasses, steps);
  train(*gpu, batches, batch, kClasses, steps);

  const models::NamedTensors want = cpu->state(), got = gpu->state();
  REQUIRE(want.size() == got.size());
  double worst = 0;
  std::string worst_name;
  int layers = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string& n = want[i].first;
    if (!ends_with(n, "running_mean") && !ends_with(n, "running_var")) continue;
    REQUIRE(got[i].first == n);
    ++layers;
    const double e = normalized_error(got[i].second.to_host(), want[i].second.to_host());
    CHECK_MESSAGE(e <= kStatisticsTolerance, n << ": " << e);
    if (e >= worst) worst = e, worst_name = n;
  }
  CHECK(layers > 0);

  cpu->set_training(false);
  gpu->set_training(false);
  NoGrad no_grad;
  const std::vector<float> lc = cpu->forward(Variable(images_on(held_out, batch, Device::CPU)))
                                    .value()
                                    .to_host();
  const std::vector<float> lg = gpu->forward(Variable(images_on(held_out, batch, Device::CUDA)))
                                    .value()
                                    .to_host();
  const double logit_err = normalized_error(lg, lc);
  std::printf("%-10s batch %d, %d steps: %d running statistics, worst %.2e (%s); eval logits %.2e\n",
              name.c_str(), batch, steps, layers, worst, worst_name.c_str(), logit_err);
  CHECK(logit_err <= kLogitTolerance);
}

struct FixedMath {
  FixedMath() {
    cuda_backend().set_allow_tf32(false);
    cuda_backend().set_deterministic(true);
  }
};

}  // namespace

TEST_CASE("running statistics and eval logits: blog ResNet50, batch 250, cpu == cuda") {
  FixedMath fixed;
  // 10 steps: the CPU half costs ~2,500 ResNet50 images (tens of seconds on a 16-core host).
  check_model("resnet50", 250, 10);
}

TEST_CASE("running statistics and eval logits: CIFAR ResNet-20, batch 128, cpu == cuda") {
  FixedMath fixed;
  check_model("resnet20", 128, 30);
}
