// The real-data acceptance runs of the trainer: trains a model on a dataset's training split
// and reports test accuracy after every epoch. The test split only measures (no schedule or
// stopping decision looks at it). Not a test: it takes minutes.
//
// Usage: train_cifar [--data cifar10|fashion-mnist|PATH] [--model resnet8] [--epochs 5]
//          [--batch-size 128] [--optimizer sgd|adam|adamw] [--lr 0.2] [--wd 5e-4]
//          [--schedule onecycle|cosine|constant] [--augment crop|none] [--workers 1]
//          [--log FILE] [--seed 0]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "data/registry.h"
#include "engine/check.h"
#include "models/factory.h"
#include "train/evaluate.h"
#include "train/trainer.h"

using namespace rf;

int main(int argc, char** argv) try {
  std::map<std::string, std::string> a = {
      {"data", "cifar10"}, {"model", "resnet8"}, {"epochs", "5"}, {"batch-size", "128"},
      {"optimizer", "sgd"}, {"lr", "0.2"}, {"wd", "5e-4"}, {"schedule", "onecycle"},
      {"augment", "crop"}, {"workers", "1"}, {"log", ""}, {"seed", "0"}};
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    RF_CHECK(flag.starts_with("--") && a.count(flag.substr(2)) && i + 1 < argc,
             "unknown flag or missing value: " << flag);
    a[flag.substr(2)] = argv[i + 1];
  }
  data::LoadOptions lo;
  lo.cache_dir = std::filesystem::temp_directory_path() / "rf-dataset-cache";
  lo.log = [](const std::string& s) { std::printf("data: %s\n", s.c_str()); };
  const data::TrainTest tt = data::load_dataset(a["data"], lo);
  std::printf("train %zu, test %zu images of %dx%dx%d, %d classes\n", tt.train.size(), tt.test.size(),
              tt.train.height, tt.train.width, tt.train.channels, tt.train.num_classes());

  data::LoaderOptions train_opts;
  train_opts.batch_size = std::stoul(a["batch-size"]);
  train_opts.seed = std::stoull(a["seed"]);
  train_opts.workers = unsigned(std::stoul(a["workers"]));
  train_opts.normalization = data::compute_normalization(tt.train);
  RF_CHECK(a["augment"] == "crop" || a["augment"] == "none", "--augment crop|none");
  if (a["augment"] == "crop") train_opts.augment = data::AugmentConfig::pad_crop_flip(4);
  data::LoaderOptions test_opts = train_opts;
  test_opts.shuffle = false;
  test_opts.augment = {};
  test_opts.batch_size = 500;
  data::Loader train_loader(tt.train, train_opts);
  data::Loader test_loader(tt.test, test_opts);

  auto model = models::make_model(a["model"], {.classes = tt.train.num_classes(),
                                               .in_channels = tt.train.channels,
                                               .seed = std::stoull(a["seed"])});
  train::TrainConfig c;
  c.epochs = std::stoi(a["epochs"]);
  c.optimizer.kind = train::parse_optimizer_kind(a["optimizer"]);
  c.optimizer.nesterov = c.optimizer.kind == train::OptimizerConfig::Kind::Sgd;
  c.optimizer.weight_decay = std::stod(a["wd"]);
  c.schedule.kind = train::parse_schedule_kind(a["schedule"]);
  c.schedule.lr = std::stod(a["lr"]);
  c.log_file = a["log"];
  train::Trainer trainer(*model, c, int64_t(train_loader.batches_per_epoch()));
  std::printf("%s: %lld parameters; %s lr %s, %s schedule, batch %s, augment %s\n", a["model"].c_str(),
              (long long)model->num_parameters(), a["optimizer"].c_str(), a["lr"].c_str(),
              a["schedule"].c_str(), a["batch-size"].c_str(), a["augment"].c_str());
  const train::FitResult r = trainer.fit(train_loader, &test_loader);
  const train::Evaluation e = train::evaluate(*model, test_loader);
  std::printf("test accuracy %.2f%% after %zu epochs, %.0f s of training and evaluation\n",
              100 * e.accuracy(), r.history.size(), r.history.back().elapsed_seconds);
  std::printf("per class:");
  for (double x : e.confusion.per_class_accuracy()) std::printf(" %.1f", 100 * x);
  std::printf("\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_cifar: %s\n", e.what());
  return 1;
}
