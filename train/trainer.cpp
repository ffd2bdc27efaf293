#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <fstream>

#include "engine/check.h"
#include "engine/ops.h"
#include "engine/profiler.h"
#include "train/batch_tensors.h"
#include "train/batchnorm_statistics.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/out_of_memory.h"
#include "train/running_metrics.h"

namespace rf::train {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Trainer::Trainer(models::Model& model, TrainConfig config, int64_t steps_per_epoch)
    : model_(model), config_(std::move(config)), steps_per_epoch_(steps_per_epoch) {
  RF_CHECK(config_.epochs > 0, "training for " << config_.epochs << " epochs");
  RF_CHECK(config_.precise_bn_batches == 0 || config_.statistics_loader,
           "precise batch-norm statistics need a loader of training batches");
  schedule_ = make_schedule(config_.schedule, steps_per_epoch, config_.epochs);
  optimizer_ = make_optimizer(config_.optimizer, model.parameters(), float(schedule_->lr(0)));
  if (config_.early_stopping) early_stopping_.emplace(*config_.early_stopping);
  if (config_.print_progress)
    printer_ = std::make_unique<ConsolePrinter>(config_.label, stdout_is_terminal());
  metrics_ = std::make_unique<RunningMetrics>(model.device(), model.classes(), false);
  if (config_.cuda_graphs) {
    recorder_ = backend_recorder(model.device());
    recorded_step_ = std::make_unique<RecordedStep>(
        recorder_, [this](const Tensor& images, const Tensor& targets) { forward_backward(images, targets); });
  }
}

Trainer::~Trainer() = default;

Json Trainer::config_json() const {
  return Json::object({{"epochs", config_.epochs},
                       {"steps_per_epoch", steps_per_epoch_},
                       {"optimizer", config_.optimizer.to_json()},
                       {"schedule", config_.schedule.to_json()},
                       {"early_stopping", config_.early_stopping ? config_.early_stopping->to_json() : Json()},
                       {"precise_bn_batches", config_.precise_bn_batches}});
}

// Reads the epoch's running totals (a device synchronization) and stops the generation when a
// loss was not finite: the steps after it ran on poisoned weights, but nothing of them is kept,
// since the checkpoint is written only after a complete epoch.
RunningMetrics::Totals Trainer::read_totals(int epoch) const {
  const RunningMetrics::Totals m = metrics_->read();
  RF_CHECK(m.first_nonfinite_batch < 0,
           "training loss is " << m.first_nonfinite_loss << " at epoch " << epoch + 1 << ", batch "
                               << m.first_nonfinite_batch << " (learning rate "
                               << schedule_->lr(int64_t(epoch) * steps_per_epoch_ + m.first_nonfinite_batch - 1)
                               << "); training stopped, the last checkpoint is kept");
  return m;
}

void Trainer::set_device_data(const DeviceDataset* data) {
  RF_CHECK(!data || data->device() == model_.device(),
           "device-resident data on " << device_name(data->device()) << " for a model on "
                                      << device_name(model_.device()));
  device_data_ = data;
}

void Trainer::forward_backward(const Tensor& images, const Tensor& batch_targets) {
  Tensor targets = batch_targets;
  if (targets_) {
    NoGrad no_grad;  // targets are constants, whatever model computed them
    targets = targets_(images, batch_targets);
    const int64_t n = images.shape()[0];
    RF_CHECK(targets.shape() == (Shape{n, model_.classes()}) && targets.device() == images.device(),
             "target provider returned " << shape_str(targets.shape()) << " on "
                                         << device_name(targets.device()) << ", expected ["
                                         << n << ", " << model_.classes() << "] on "
                                         << device_name(images.device()));
  }
  model_.parameters().zero_grad();
  const Variable logits = model_.forward(Variable(images));
  Variable loss = softmax_cross_entropy(logits, targets);
  metrics_->accumulate(logits.value(), loss.value());
  loss.backward();
}

Trainer::EpochTotals Trainer::train_epoch(data::Loader& train, int epoch) {
  EpochTotals t;
  model_.set_training(true);
  train.start_epoch(uint64_t(epoch));
  const auto t0 = std::chrono::steady_clock::now();
  auto last_read = t0;
  int64_t step = int64_t(epoch) * steps_per_epoch_;
  size_t batch_no = 0;
  const Device device = model_.device();
  RF_CHECK(!recorded_step_ || !profiler::enabled(),
           "the profiler times ops one by one: turn CUDA graphs off to profile");
  metrics_->reset();
  while (data::BatchPtr b = train.next()) {
    if (config_.stop && config_.stop->load()) {
      t.interrupted = true;
      break;
    }
    RF_CHECK(b->classes == model_.classes() && b->channels == model_.in_channels(),
             "training batches of " << b->classes << " classes and " << b->channels
                                    << " channels for a model of " << model_.classes()
                                    << " classes and " << model_.in_channels() << " channels");
    optimizer_->set_lr(float(schedule_->lr(step)));
    Tensor images, batch_targets_on_device;
    if (device_data_) {
      RF_CHECK(b->images == nullptr, "training on device-resident data needs an indices-only loader");
      DeviceBatch made = device_data_->make_batch(b->indices, b->epoch);
      images = std::move(made.images);
      batch_targets_on_device = std::move(made.targets);
    } else {
      images = batch_images(*b, device);
      batch_targets_on_device = batch_targets(*b, device);
    }
    metrics_->set_labels(b->labels);
    if (recorded_step_)
      recorded_step_->run(images, batch_targets_on_device);
    else
      forward_backward(images, batch_targets_on_device);
    optimizer_->step();
    ++step;
    ++batch_no;

    const bool last = int64_t(batch_no) == steps_per_epoch_;
    if ((on_batch_ || printer_) &&
        (last || seconds_since(last_read) >= config_.progress_seconds)) {
      last_read = std::chrono::steady_clock::now();
      const RunningMetrics::Totals m = read_totals(epoch);
      const double secs = seconds_since(t0);
      const double per_batch = secs / double(batch_no);
      BatchProgress p;
      p.epoch = epoch;
      p.epochs = config_.epochs;
      p.batch = batch_no;
      p.batches = size_t(steps_per_epoch_);
      p.loss = m.loss_sum / double(m.seen);
      p.accuracy = double(m.correct) / double(m.seen);
      p.images_per_second = double(m.seen) / secs;
      p.epoch_eta_seconds = per_batch * double(steps_per_epoch_ - int64_t(batch_no));
      p.total_eta_seconds = p.epoch_eta_seconds + per_batch * double(steps_per_epoch_) *
                                                      double(config_.epochs - epoch - 1);
      if (printer_) printer_->batch(p);
      if (on_batch_) on_batch_(p);
    }
  }
  if (!t.interrupted) {
    const RunningMetrics::Totals m = read_totals(epoch);
    t.loss_sum = m.loss_sum;
    t.correct = m.correct;
    t.seen = m.seen;
  }
  t.seconds = seconds_since(t0);
  return t;
}

// A GPU out-of-memory error anywhere in here (a step, validation) leaves restated with the batch
// size that asked for the memory, the one setting a person can change.
FitResult Trainer::fit(data::Loader& train, data::Loader* val) try {
  RF_CHECK(int64_t(train.batches_per_epoch()) == steps_per_epoch_,
           "the training loader has " << train.batches_per_epoch() << " batches per epoch, the trainer was made for "
                                      << steps_per_epoch_);
  RF_CHECK(val || (config_.schedule.kind != ScheduleConfig::Kind::Plateau && !early_stopping_),
           "the plateau schedule and early stopping watch validation metrics: give a validation loader");
  FitResult result;
  // However fit() ends, the checkpoint being written is on disk (or its error printed) first.
  struct FinishWrite {
    BackgroundWriter& w;
    ~FinishWrite() { w.finish(); }
  } finish_write{checkpoint_writer_};
  // The log starts as the history this fit continues: a run killed after an epoch's line but
  // before that epoch's checkpoint was on disk (it is written in the background) left lines that
  // no checkpoint holds, even before its first checkpoint.
  write_log();
  // An epoch's time runs from the previous epoch's figures to its own, so it includes the previous
  // epoch's checkpoint: that is gathered after the figures are final, as the checkpoint holds them.
  auto t0 = std::chrono::steady_clock::now();
  for (int epoch = next_epoch(); epoch < config_.epochs && !stopped_early_; ++epoch) {
    const EpochTotals t = train_epoch(train, epoch);
    if (t.interrupted) {
      result.interrupted = true;
      break;
    }
    EpochStats s;
    s.epoch = epoch;
    s.epochs = config_.epochs;
    s.train_loss = t.seen ? t.loss_sum / double(t.seen) : 0;
    s.train_accuracy = t.seen ? double(t.correct) / double(t.seen) : 0;
    s.val_loss = s.val_accuracy = std::nan("");
    if (val) {
      const auto evaluation_start = std::chrono::steady_clock::now();
      if (config_.precise_bn_batches > 0)
        recompute_batchnorm_statistics(model_, *config_.statistics_loader, config_.precise_bn_batches,
                                       recorder_);
      const Evaluation e = evaluate(model_, *val, recorder_);
      s.val_loss = e.loss;
      s.val_accuracy = e.accuracy();
      s.evaluation_seconds = seconds_since(evaluation_start);
    }
    s.lr = optimizer_->lr();
    schedule_->on_epoch_end(s.val_accuracy, s.val_loss);
    if (early_stopping_) {
      const EarlyStopping::Decision d = early_stopping_->on_epoch_end(epoch, s.val_accuracy, s.val_loss);
      if (d.improved && early_stopping_->config().restore_best) best_ = model_.snapshot();
      stopped_early_ = d.stop;
    }
    s.images_per_second = t.seconds > 0 ? double(t.seen) / t.seconds : 0;
    s.train_seconds = t.seconds;
    s.epoch_seconds = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    s.elapsed_seconds = (history_.empty() ? 0 : history_.back().elapsed_seconds) + s.epoch_seconds;
    s.eta_seconds = stopped_early_ ? 0 : s.epoch_seconds * double(config_.epochs - epoch - 1);
    history_.push_back(s);
    if (!config_.checkpoint_file.empty()) {
      checkpoint_writer_.wait();  // the last epoch's first: one copy of the state in host memory
      checkpoint_writer_.start([file = config_.checkpoint_file,
                                contents = checkpoint_contents(config_.checkpoint_file)] {
        write_safetensors(file, contents);
      });
    }
    append_log(s);
    if (printer_) printer_->epoch(s);
    if (on_epoch_) on_epoch_(s);
  }
  // As Keras 3: the best epoch's weights at the end of training, whether it stopped early or not.
  if (!result.interrupted && early_stopping_ && early_stopping_->config().restore_best && !best_.empty())
    model_.load_state(best_);
  // With validation, the statistics were recomputed for the weights it judged (the last epoch's,
  // or the best epoch's restored with them); without it, they are recomputed once here.
  if (!result.interrupted && !val && config_.precise_bn_batches > 0)
    recompute_batchnorm_statistics(model_, *config_.statistics_loader, config_.precise_bn_batches,
                                   recorder_);
  checkpoint_writer_.wait();
  result.history = history_;
  result.stopped_early = stopped_early_;
  result.best_epoch = early_stopping_ ? early_stopping_->best_epoch() : -1;
  return result;
} catch (const OutOfMemory& e) {
  throw explain_out_of_memory(e, train.batch_size());
}

void Trainer::write_log() const {
  if (config_.log_file.empty()) return;
  std::ofstream out(config_.log_file, std::ios::trunc);
  for (const EpochStats& s : history_) out << s.to_json().dump() << '\n';
  RF_CHECK(out.flush(), config_.log_file.string() << ": cannot write the training log");
}

void Trainer::append_log(const EpochStats& s) const {
  if (config_.log_file.empty()) return;
  std::ofstream out(config_.log_file, std::ios::app);
  out << s.to_json().dump() << '\n';
  RF_CHECK(out.flush(), config_.log_file.string() << ": cannot append to the training log");
}

}  // namespace rf::train
