// Images per second of whole training steps (forward, backward, Adam update) on the CPU for the
// CIFAR ResNet-8 and ResNet-20 and the blog's ResNet50, on synthetic 32x32x3 batches.
// Usage: bench_train [model ...]   (default: resnet8 resnet20 resnet50)
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "models/factory.h"
#include "train/optimizer_config.h"

using namespace rf;

namespace {

struct Case {
  std::string model;
  int batch, steps;
};

double images_per_second(const Case& c) {
  auto model = models::make_model(c.model, {.classes = 10, .seed = 1});
  auto opt = train::make_optimizer(train::OptimizerConfig{}, model->parameters(), 1e-3f);
  std::vector<float> x(size_t(c.batch) * 32 * 32 * 3), t(size_t(c.batch) * 10, 0.f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 2654435761u) % 1000) / 500.f - 1.f;
  for (int i = 0; i < c.batch; ++i) t[size_t(i) * 10 + size_t(i % 10)] = 1.f;
  const Variable images(Tensor::from_host(x, {c.batch, 32, 32, 3}));
  const Tensor targets = Tensor::from_host(t, {c.batch, 10});
  auto step = [&] {
    model->parameters().zero_grad();
    Variable loss = softmax_cross_entropy(model->forward(images), targets);
    loss.backward();
    opt->step();
    (void)loss.value().item();
  };
  step();  // warm-up: first-touch allocations, thread pool start
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < c.steps; ++s) step();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return double(c.batch) * c.steps / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<Case> all = {{"resnet8", 128, 10}, {"resnet20", 128, 5}, {"resnet50", 32, 4}};
  std::vector<Case> chosen;
  for (int i = 1; i < argc; ++i)
    for (const Case& c : all)
      if (c.model == argv[i]) chosen.push_back(c);
  if (argc > 1 && chosen.size() != size_t(argc - 1)) {
    std::fprintf(stderr, "bench_train: models are resnet8, resnet20, resnet50\n");
    return 2;
  }
  if (chosen.empty()) chosen = all;
  std::printf("%-10s %6s %6s %10s\n", "model", "batch", "steps", "images/s");
  for (const Case& c : chosen) {
    std::printf("%-10s %6d %6d %10.1f\n", c.model.c_str(), c.batch, c.steps, images_per_second(c));
    std::fflush(stdout);
  }
  return 0;
}
