// The trainer: learning happens, a fixed seed reproduces weights bitwise, a run resumed from a
// checkpoint ends bitwise where an uninterrupted run ends, checkpoints written in the background
// hold their epoch (also when fit() throws) and their errors stop the run, targets can come
// from a provider, a non-finite loss stops training with a clear error.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "engine/check.h"
#include "engine/safetensors.h"
#include "models/factory.h"
#include "synthetic.h"
#include "train/background_writer.h"
#include "train/trainer.h"

using namespace rf;
using namespace rf::train;

namespace {

struct Fixture {
  data::Dataset train_set = test::synthetic_dataset(48, 0);
  data::Dataset val_set = test::synthetic_dataset(24, 1);
  data::Loader train{train_set, test::loader_options(true)};
  data::Loader val{val_set, test::loader_options(false)};
};

// Adam with a plateau schedule and early stopping keeping the best weights: every piece of
// state a resume must restore.
TrainConfig full_state_config(int epochs) {
  TrainConfig c;
  c.epochs = epochs;
  c.optimizer.kind = OptimizerConfig::Kind::Adam;
  c.schedule.kind = ScheduleConfig::Kind::Plateau;
  c.schedule.lr = 3e-3;
  c.schedule.patience = 1;
  c.schedule.factor = 0.5;
  c.early_stopping = EarlyStoppingConfig{.monitor = Monitor::ValLoss, .min_delta = 0, .patience = 10,
                                         .restore_best = true};
  c.print_progress = false;
  return c;
}

std::vector<std::vector<float>> weights(const models::Model& m) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, t] : m.state()) out.push_back(t.to_host());
  return out;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("rf_test_trainer_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

// Three epochs of Adam, a checkpoint after each in `dir`.
TrainConfig checkpointed_config(const std::filesystem::path& dir) {
  TrainConfig c;
  c.epochs = 3;
  c.optimizer.kind = OptimizerConfig::Kind::Adam;
  c.schedule.lr = 3e-3;
  c.print_progress = false;
  c.checkpoint_file = dir / "ckpt.safetensors";
  return c;
}

int files_in(const std::filesystem::path& dir) {
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  return files;
}

}  // namespace

TEST_CASE("training reduces the loss and beats chance on a learnable problem") {
  Fixture f;
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 1});
  TrainConfig c;
  c.epochs = 4;
  c.schedule.lr = 1e-2;
  c.print_progress = false;
  Trainer t(*model, c, int64_t(f.train.batches_per_epoch()));
  const FitResult r = t.fit(f.train, &f.val);
  REQUIRE(r.history.size() == 4);
  CHECK(r.history.back().train_loss < r.history.front().train_loss);
  CHECK(r.history.back().val_accuracy > 0.6);
  CHECK(r.history.back().elapsed_seconds >= r.history.front().elapsed_seconds);
}

TEST_CASE("a fixed seed gives bitwise-identical weights across runs") {
  std::vector<std::vector<float>> runs[2];
  for (auto& w : runs) {
    Fixture f;
    auto model = models::make_model("resnet8", {.classes = 3, .seed = 5});
    Trainer t(*model, full_state_config(2), int64_t(f.train.batches_per_epoch()));
    t.fit(f.train, &f.val);
    w = weights(*model);
  }
  CHECK(runs[0] == runs[1]);
}

TEST_CASE("resume after 2 of 4 epochs equals the uninterrupted run, bitwise") {
  const auto dir = temp_dir("resume");
  Fixture f;
  const int64_t steps = int64_t(f.train.batches_per_epoch());

  auto straight = models::make_model("resnet8", {.classes = 3, .seed = 9});
  Trainer a(*straight, full_state_config(4), steps);
  const FitResult ra = a.fit(f.train, &f.val);

  // Interrupted after epoch 2: the stop flag is raised from the epoch callback.
  std::atomic<bool> stop{false};
  TrainConfig cb = full_state_config(4);
  cb.checkpoint_file = dir / "ckpt.safetensors";
  cb.log_file = dir / "log.jsonl";
  cb.stop = &stop;
  {
    auto first = models::make_model("resnet8", {.classes = 3, .seed = 9});
    Trainer b(*first, cb, steps);
    b.on_epoch([&](const EpochStats& s) { stop = s.epoch == 1; });
    const FitResult rb = b.fit(f.train, &f.val);
    CHECK(rb.interrupted);
    CHECK(rb.history.size() == 2);
  }
  // A fresh process would build the model from another seed; resume overwrites everything.
  stop = false;
  auto resumed = models::make_model("resnet8", {.classes = 3, .seed = 1234});
  Trainer c(*resumed, cb, steps);
  c.resume(cb.checkpoint_file);
  CHECK(c.next_epoch() == 2);
  const FitResult rc = c.fit(f.train, &f.val);
  REQUIRE(rc.history.size() == ra.history.size());
  for (size_t e = 0; e < ra.history.size(); ++e) {
    CAPTURE(e);
    CHECK(rc.history[e].train_loss == ra.history[e].train_loss);
    CHECK(rc.history[e].val_loss == ra.history[e].val_loss);
    CHECK(rc.history[e].lr == ra.history[e].lr);
  }
  CHECK(weights(*resumed) == weights(*straight));
  CHECK(c.optimizer().state()[0].to_host() == a.optimizer().state()[0].to_host());
  CHECK(c.optimizer().state()[1].to_host() == a.optimizer().state()[1].to_host());

  // The log holds one line per epoch, none repeated.
  std::ifstream log(cb.log_file);
  int lines = 0;
  for (std::string line; std::getline(log, line);) {
    CHECK(parse_json(line, "log").at("epoch").get<int64_t>() == ++lines);
  }
  CHECK(lines == 4);

  // A run killed after its first epoch's line but before that epoch's checkpoint was on disk
  // leaves a line and no checkpoint: the generation starts again, and so does its log.
  {
    std::ofstream(cb.log_file) << ra.history[0].to_json().dump() << '\n';
    TrainConfig fresh = cb;
    fresh.checkpoint_file = dir / "never-written.safetensors";
    fresh.stop = nullptr;
    fresh.epochs = 2;
    auto m = models::make_model("resnet8", {.classes = 3, .seed = 9});
    Trainer again(*m, fresh, steps);
    again.fit(f.train, &f.val);
    std::ifstream restarted(cb.log_file);
    int n = 0;
    for (std::string line; std::getline(restarted, line);)
      CHECK(parse_json(line, "log").at("epoch").get<int64_t>() == ++n);
    CHECK(n == 2);
  }

  // A different configuration refuses the checkpoint.
  TrainConfig other = cb;
  other.schedule.lr = 1e-3;
  auto m = models::make_model("resnet8", {.classes = 3});
  Trainer d(*m, other, steps);
  CHECK_THROWS_WITH_AS(d.resume(cb.checkpoint_file), doctest::Contains("different training configuration"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("background writes run one at a time, off the caller's thread; an error reaches the next call") {
  using namespace std::chrono_literals;
  BackgroundWriter w;

  // start() returns while its write still waits for the caller.
  std::promise<void> release;
  std::future<std::future_status> waited;
  {
    std::shared_future<void> go = release.get_future().share();
    std::promise<std::future_status> result;
    waited = result.get_future();
    w.start([go, result = std::make_shared<std::promise<std::future_status>>(std::move(result))] {
      result->set_value(go.wait_for(10s));
    });
  }
  release.set_value();
  w.wait();
  CHECK(waited.get() == std::future_status::ready);

  // A write starts only when the one before it has finished.
  std::mutex m;
  std::vector<int> order;
  int running = 0, most = 0;
  for (int i = 0; i < 3; ++i)
    w.start([&, i] {
      {
        std::lock_guard<std::mutex> lock(m);
        most = std::max(most, ++running);
      }
      std::this_thread::sleep_for(20ms);
      std::lock_guard<std::mutex> lock(m);
      order.push_back(i);
      --running;
    });
  w.wait();
  CHECK(most == 1);
  CHECK(order == std::vector<int>{0, 1, 2});

  // A failed write's error is thrown by the next start(), which then starts nothing, or by wait();
  // finish() prints it instead.
  w.start([] { throw Error("ckpt.safetensors: write failed: No space left on device"); });
  CHECK_THROWS_WITH_AS(w.start([&] { order.push_back(3); }), doctest::Contains("No space left"), Error);
  w.wait();
  CHECK(order.size() == 3);
  w.start([] { throw Error("ckpt.safetensors: fsync failed"); });
  CHECK_THROWS_WITH_AS(w.wait(), doctest::Contains("fsync failed"), Error);
  w.wait();
  w.start([] { throw Error("ckpt.safetensors: fsync failed (printed by finish(), as expected)"); });
  w.finish();
  CHECK_NOTHROW(w.wait());
}

TEST_CASE("an epoch's checkpoint holds that epoch while the next trains; fit() ends when it is written") {
  const auto dir = temp_dir("background");
  Fixture f;
  const int64_t steps = int64_t(f.train.batches_per_epoch());
  REQUIRE(steps == 3);
  TrainConfig c = checkpointed_config(dir);
  c.progress_seconds = 0;  // on_batch after every batch
  std::atomic<bool> stop{false};
  c.stop = &stop;
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 4});
  Trainer t(*model, c, steps);
  std::vector<std::vector<float>> after_first;
  t.on_epoch([&](const EpochStats& s) {
    if (s.epoch == 0) after_first = weights(*model);
  });
  // Interrupted after two steps of the second epoch, which trained while epoch 1's file was
  // written.
  t.on_batch([&](const BatchProgress& p) { stop = p.epoch == 1 && p.batch == 2; });
  const FitResult r = t.fit(f.train, &f.val);
  REQUIRE(r.interrupted);
  REQUIRE(!after_first.empty());
  CHECK(weights(*model) != after_first);
  const SafetensorsFile ckpt = SafetensorsFile::read(c.checkpoint_file);
  CHECK(ckpt.meta("epochs_done") == "1");
  const models::NamedTensors state = model->state();
  for (size_t i = 0; i < state.size(); ++i) {
    CAPTURE(state[i].first);
    CHECK(ckpt.tensor(state[i].first).to_host() == after_first[i]);
  }
  // No temporary file is left behind.
  CHECK(files_in(dir) == 1);

  // A checkpoint that cannot be written stops the run with an error naming it.
  TrainConfig bad = c;
  bad.stop = nullptr;
  bad.checkpoint_file = dir / "no-such-dir" / "ckpt.safetensors";
  auto m = models::make_model("resnet8", {.classes = 3, .seed = 4});
  Trainer u(*m, bad, steps);
  CHECK_THROWS_WITH_AS(u.fit(f.train, &f.val), doctest::Contains("no-such-dir"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("when fit() throws, the checkpoint being written is on disk before the exception leaves") {
  // The epoch callback runs while its epoch's checkpoint is being written (fsync and rename
  // take milliseconds); its exception must not leave fit() before the write is done.
  const auto dir = temp_dir("throws");
  Fixture f;
  TrainConfig c = checkpointed_config(dir);
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 4});
  Trainer t(*model, c, int64_t(f.train.batches_per_epoch()));
  t.on_epoch([](const EpochStats&) { throw std::runtime_error("the epoch callback failed"); });
  CHECK_THROWS_WITH_AS(t.fit(f.train, &f.val), "the epoch callback failed", std::runtime_error);
  REQUIRE(std::filesystem::exists(c.checkpoint_file));
  const SafetensorsFile ckpt = SafetensorsFile::read(c.checkpoint_file);
  CHECK(ckpt.meta("epochs_done") == "1");
  CHECK(files_in(dir) == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("an epoch's time holds its steps, its evaluation and the previous epoch's checkpoint") {
  const auto dir = temp_dir("times");
  Fixture f;
  TrainConfig c = checkpointed_config(dir);
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 4});
  Trainer t(*model, c, int64_t(f.train.batches_per_epoch()));
  // What follows an epoch's figures (its checkpoint, the callbacks) is timed in the next epoch.
  constexpr double kPause = 0.2;
  t.on_epoch([&](const EpochStats& s) {
    if (s.epoch == 0) std::this_thread::sleep_for(std::chrono::duration<double>(kPause));
  });
  const FitResult r = t.fit(f.train, &f.val);
  REQUIRE(r.history.size() == 3);
  double total = 0;
  for (const EpochStats& s : r.history) {
    CAPTURE(s.epoch);
    CHECK(s.train_seconds > 0);
    CHECK(s.evaluation_seconds > 0);
    CHECK(s.epoch_seconds >= s.train_seconds + s.evaluation_seconds);
    total += s.epoch_seconds;
  }
  const EpochStats& second = r.history[1];
  CHECK(second.epoch_seconds >= kPause + second.train_seconds + second.evaluation_seconds);
  CHECK(r.history.back().elapsed_seconds == doctest::Approx(total));
  // Both are in the log, and a log from before they were recorded reads them as unknown.
  const EpochStats back = EpochStats::from_json(second.to_json());
  CHECK(back.train_seconds == second.train_seconds);
  CHECK(back.evaluation_seconds == second.evaluation_seconds);
  Json old = second.to_json();
  old.erase("train_seconds");
  old.erase("evaluation_seconds");
  CHECK(std::isnan(EpochStats::from_json(old).train_seconds));
  CHECK(std::isnan(EpochStats::from_json(old).evaluation_seconds));

  // Without validation nothing is evaluated during training.
  TrainConfig plain = c;
  plain.checkpoint_file.clear();
  auto m = models::make_model("resnet8", {.classes = 3, .seed = 4});
  Trainer u(*m, plain, int64_t(f.train.batches_per_epoch()));
  for (const EpochStats& s : u.fit(f.train, nullptr).history) CHECK(s.evaluation_seconds == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a target provider supplies the training targets") {
  Fixture f;
  auto model = models::make_model("resnet8", {.classes = 3, .seed = 2});
  TrainConfig c;
  c.epochs = 1;
  c.print_progress = false;
  Trainer t(*model, c, int64_t(f.train.batches_per_epoch()));
  size_t rows = 0;
  t.set_target_provider([&](const Tensor& images, const Tensor& batch_targets) {
    const int64_t n = images.shape()[0];
    CHECK(images.shape() == Shape{n, 8, 8, 3});
    CHECK(batch_targets.shape() == Shape{n, 3});
    rows += size_t(n);
    return Tensor::full({n, 3}, 1.f / 3, images.device());
  });
  const FitResult r = t.fit(f.train, &f.val);
  CHECK(rows == 48);
  // Uniform targets: the cross-entropy is at least log(3).
  CHECK(r.history[0].train_loss >= std::log(3.0) - 1e-4);

  TrainConfig more = c;
  more.epochs = 2;
  Trainer u(*model, more, int64_t(f.train.batches_per_epoch()));
  u.set_target_provider([](const Tensor& images, const Tensor&) {
    return Tensor::full({images.shape()[0], 3}, std::nanf(""), images.device());
  });
  CHECK_THROWS_WITH_AS(u.fit(f.train, &f.val), doctest::Contains("training loss is nan"), Error);
}
