// Our half of the real-scale comparison of issue 11 with the PyTorch twin (bench/blog_twin_pytorch.py):
// the blog's Keras ResNet50, Adam 1e-3 (eps 1e-7, the blog recipe's), constant rate, batch 50,
// no augmentation, px / 255, on an even per-class sample of CIFAR-10 in one fixed shuffled order.
// Writes the images, their order and our initial weights to OUT/twin_input.safetensors (which
// the twin reads, so both start from the same weights and see the same batches), trains, then
// prints the held-out accuracy in eval mode (running statistics) and in train mode (batch
// statistics, batches of the training size) and the eval/train-mode accuracy on the first
// 1000 training images. The trained state goes to OUT/ours_final.safetensors. Not a test: it
// takes minutes.
//
// Usage: blog_twin_cifar OUT [train-per-class 500] [test-per-class 100] [epochs 1] [seed 0]
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>

#include "data/registry.h"
#include "engine/check.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "train/batch_tensors.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/trainer.h"

using namespace rf;

namespace {

constexpr size_t kBatch = 50;

// The first `per_class` images of every class, in an order shuffled by `seed`.
data::Dataset even_sample(const data::Dataset& d, size_t per_class, uint64_t seed) {
  std::vector<size_t> taken(size_t(d.num_classes()), 0), idx;
  for (size_t i = 0; i < d.size(); ++i)
    if (taken[size_t(d.labels[i])]++ < per_class) idx.push_back(i);
  RF_CHECK(idx.size() == per_class * size_t(d.num_classes()), "fewer than " << per_class << " images in a class");
  std::shuffle(idx.begin(), idx.end(), std::mt19937_64(seed));
  return data::subset(d, idx);
}

std::pair<std::string, Tensor> pixels(const std::string& name, const data::Dataset& d) {
  std::vector<float> v(d.images.begin(), d.images.end());
  return {name, Tensor::from_host(v, {int64_t(d.size()), d.height, d.width, d.channels})};
}

std::pair<std::string, Tensor> labels(const std::string& name, const data::Dataset& d) {
  std::vector<float> v(d.labels.begin(), d.labels.end());
  return {name, Tensor::from_host(v, {int64_t(d.size())})};
}

data::LoaderOptions in_order() {
  data::LoaderOptions o;
  o.batch_size = kBatch;
  o.shuffle = false;
  o.workers = 1;
  return o;
}

// Accuracy with batch statistics: train-mode forward passes, no gradients (the running
// statistics move, so call it last).
double train_mode_accuracy(models::Model& m, const data::Dataset& d) {
  data::Loader loader(d, in_order());
  m.set_training(true);
  NoGrad no_grad;
  size_t correct = 0;
  loader.start_epoch(0);
  while (data::BatchPtr b = loader.next()) {
    const std::vector<float> l = m.forward(Variable(train::batch_images(*b, m.device()))).value().to_host();
    for (size_t i = 0; i < b->size; ++i)
      correct += train::argmax(l.data() + i * size_t(b->classes), b->classes) == b->labels[i];
  }
  return double(correct) / double(d.size());
}

}  // namespace

int main(int argc, char** argv) try {
  RF_CHECK(argc >= 2, "usage: blog_twin_cifar OUT [train-per-class] [test-per-class] [epochs] [seed]");
  const std::filesystem::path out = argv[1];
  const size_t train_per_class = argc > 2 ? std::stoul(argv[2]) : 500;
  const size_t test_per_class = argc > 3 ? std::stoul(argv[3]) : 100;
  const int epochs = argc > 4 ? std::stoi(argv[4]) : 1;
  const uint64_t seed = argc > 5 ? std::stoull(argv[5]) : 0;

  data::LoadOptions lo;
  lo.cache_dir = std::filesystem::temp_directory_path() / "rf-dataset-cache";
  const data::TrainTest tt = data::load_dataset("cifar10", lo);
  const data::Dataset train_set = even_sample(tt.train, train_per_class, seed);
  const data::Dataset test_set = even_sample(tt.test, test_per_class, seed + 1);
  std::vector<size_t> first(std::min<size_t>(1000, train_set.size()));
  std::iota(first.begin(), first.end(), size_t(0));
  const data::Dataset train_probe = data::subset(train_set, first);

  auto model = models::make_model("resnet50", {.classes = 10, .seed = seed});
  std::vector<std::pair<std::string, Tensor>> file = {
      pixels("train_pixels", train_set), labels("train_labels", train_set),
      pixels("test_pixels", test_set), labels("test_labels", test_set)};
  for (const auto& [name, t] : model->state()) file.emplace_back("init." + name, t);
  std::filesystem::create_directories(out);
  write_safetensors(out / "twin_input.safetensors", file, {{"epochs", std::to_string(epochs)}});

  data::Loader loader(train_set, in_order());
  train::TrainConfig c;
  c.epochs = epochs;
  c.optimizer.kind = train::OptimizerConfig::Kind::Adam;  // eps 1e-7, as the blog recipe
  c.schedule.lr = 1e-3;
  c.print_progress = false;
  c.progress_seconds = 0;  // on_batch after every step
  train::Trainer trainer(*model, c, int64_t(loader.batches_per_epoch()));
  int step = 0;
  trainer.on_batch([&](const train::BatchProgress& p) {
    if (++step <= 5 || step % 10 == 0) std::printf("step %d: epoch running loss %.4f, accuracy %.3f\n", step, p.loss, p.accuracy);
    std::fflush(stdout);
  });
  const train::FitResult r = trainer.fit(loader, nullptr);
  write_safetensors(out / "ours_final.safetensors", model->state());

  data::Loader test_loader(test_set, in_order()), probe_loader(train_probe, in_order());
  const double test_eval = train::evaluate(*model, test_loader).accuracy();
  const double probe_eval = train::evaluate(*model, probe_loader).accuracy();
  const double test_train = train_mode_accuracy(*model, test_set);
  const double probe_train = train_mode_accuracy(*model, train_probe);
  std::printf("ours: %d steps, last-epoch training accuracy %.4f; held-out %zu: eval mode %.4f, train mode %.4f; "
              "first %zu training images: eval mode %.4f, train mode %.4f\n",
              step, r.history.back().train_accuracy, test_set.size(), test_eval, test_train,
              train_probe.size(), probe_eval, probe_train);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "blog_twin_cifar: %s\n", e.what());
  return 1;
}
