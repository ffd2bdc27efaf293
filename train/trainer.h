#pragma once
// Trains a Model over rf::data loaders: soft-target cross-entropy, a fused optimizer step per
// batch, a learning-rate schedule, optional early stopping, per-epoch validation, progress on
// the console, a JSON-lines log and a checkpoint after every epoch from which resume() continues
// exactly (bitwise on the CPU backend). The checkpoint is copied to host memory at the epoch's
// end and written while the next epoch trains; fit() returns (or throws) once it is on disk.
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/loader.h"
#include "engine/safetensors.h"
#include "train/background_writer.h"
#include "train/device_dataset.h"
#include "train/early_stopping.h"
#include "engine/optimizer.h"
#include "train/schedule.h"
#include "models/model.h"
#include "train/optimizer_config.h"
#include "train/progress.h"
#include "train/recorded_step.h"
#include "train/running_metrics.h"

namespace rf::train {

struct TrainConfig {
  int epochs = 10;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;  // its lr is the base learning rate
  std::optional<EarlyStoppingConfig> early_stopping;
  std::filesystem::path log_file;         // JSON lines, one per epoch; empty: no log
  std::filesystem::path checkpoint_file;  // rewritten after every epoch; empty: none
  bool print_progress = true;             // the ConsolePrinter (live line on a terminal)
  // Progress (the printer and on_batch) is reported after a batch when at least this many
  // seconds passed since the last report, and after an epoch's last batch: each report reads the
  // running totals back, a device synchronization. 0: after every batch.
  double progress_seconds = 0.25;
  // Each full batch's step (all but the optimizer's update), each batch's pass of precise
  // batch-norm statistics and each validation batch's forward, replayed as a recorded CUDA graph
  // (recorded_step.h); CUDA backend only. Per-epoch results are the same as without.
  bool cuda_graphs = false;
  std::string label;                      // starts each printed line, e.g. "R2"
  // Polled between batches; when it becomes true fit() returns with `interrupted` set and the
  // model as of the last batch (the last checkpoint holds the last complete epoch).
  const std::atomic<bool>* stop = nullptr;
  // Precise batch-norm statistics (batchnorm_statistics.h), recomputed over this many batches of
  // `statistics_loader` before every validation, so that the plateau schedule and early stopping
  // judge the weights and not statistics that lag them; a completed fit() leaves the model with
  // statistics of its final weights. 0: the running averages as they are.
  int precise_bn_batches = 0;
  data::Loader* statistics_loader = nullptr;
};

// The targets of a batch: [n, classes] on the device of `images` (the batch's images, already
// there). `batch_targets` are the batch's own targets there (its soft labels, else one-hot), what
// training uses without a provider; the dynamic refinery passes a provider that runs the frozen
// labeler on `images` (and mixes in `batch_targets` for alpha < 1). It is part of the step: with
// CUDA graphs its device work is recorded with the step and replayed, so it must be a function
// of its two tensors alone, computed on their device (no copy from or to the host); it is called
// once per step when steps run eagerly.
using TargetProvider = std::function<Tensor(const Tensor& images, const Tensor& batch_targets)>;

struct FitResult {
  std::vector<EpochStats> history;  // every epoch so far, including those before a resume
  bool stopped_early = false;
  bool interrupted = false;
  int best_epoch = -1;  // by the early-stopping monitor; -1 without early stopping
};

class Trainer {
 public:
  // steps_per_epoch: the training loader's batches_per_epoch() (fixes the schedule's length).
  Trainer(models::Model& model, TrainConfig config, int64_t steps_per_epoch);
  ~Trainer();

  void set_target_provider(TargetProvider provider) { targets_ = std::move(provider); }
  // Batches made on the model's device from their indices (train/device_dataset.h) instead of
  // from the loader's host buffers; the training loader must then be indices-only. `data` must
  // outlive fit().
  void set_device_data(const DeviceDataset* data);
  void on_batch(std::function<void(const BatchProgress&)> fn) { on_batch_ = std::move(fn); }
  void on_epoch(std::function<void(const EpochStats&)> fn) { on_epoch_ = std::move(fn); }

  // Runs the remaining epochs. `val` may be null (no validation: then neither the plateau
  // schedule nor early stopping may be configured). The log file starts as the history so far
  // (none, or what resume() restored), whatever an earlier run left in it.
  FitResult fit(data::Loader& train, data::Loader* val);

  // Restores model, optimizer, schedule, early-stopping state, history and epoch from a
  // checkpoint written by a trainer of the same configuration (checked).
  void resume(const std::filesystem::path& checkpoint);

  int next_epoch() const { return int(history_.size()); }
  const std::vector<EpochStats>& history() const { return history_; }
  Optimizer& optimizer() { return *optimizer_; }

 private:
  struct EpochTotals {
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    double seconds = 0;
    bool interrupted = false;
  };
  EpochTotals train_epoch(data::Loader& train, int epoch);
  // What a step does on the device before the optimizer's update (recorded with --cuda-graphs):
  // the targets (the provider's, else `batch_targets`), forward, loss, metrics, backward.
  void forward_backward(const Tensor& images, const Tensor& batch_targets);
  RunningMetrics::Totals read_totals(int epoch) const;
  Json config_json() const;
  // The checkpoint of the epoch just ended, in host memory (written to `file` later).
  SafetensorsContents checkpoint_contents(const std::filesystem::path& file) const;
  void write_log() const;  // the log file as history_, one line per epoch
  void append_log(const EpochStats& s) const;

  models::Model& model_;
  TrainConfig config_;
  int64_t steps_per_epoch_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::optional<EarlyStopping> early_stopping_;
  models::NamedTensors best_;  // weights of the best epoch, kept when restore_best is set
  std::vector<EpochStats> history_;
  bool stopped_early_ = false;
  TargetProvider targets_;  // empty: the batches' own targets
  const DeviceDataset* device_data_ = nullptr;
  std::unique_ptr<RunningMetrics> metrics_;  // the epoch's, on the model's device
  RecordedStep::Recorder recorder_;  // Backend::record with --cuda-graphs, else empty
  std::unique_ptr<RecordedStep> recorded_step_;  // the training step (precise statistics record their own)
  std::function<void(const BatchProgress&)> on_batch_;
  std::function<void(const EpochStats&)> on_epoch_;
  std::unique_ptr<ConsolePrinter> printer_;
  BackgroundWriter checkpoint_writer_;
};

}  // namespace rf::train
