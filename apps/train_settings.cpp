#include "apps/train_settings.h"

#include <algorithm>

namespace rf::app {

train::TrainConfig train_config(const ChainConfig& c, const std::filesystem::path& log_file,
                                const std::filesystem::path& checkpoint_file) {
  train::TrainConfig t;
  t.epochs = c.epochs;
  t.cuda_graphs = c.cuda_graphs;
  t.optimizer.kind = train::parse_optimizer_kind(c.optimizer);
  t.optimizer.momentum = 0.9;
  t.optimizer.nesterov = t.optimizer.kind == train::OptimizerConfig::Kind::Sgd;
  t.optimizer.weight_decay = c.weight_decay;
  t.schedule.kind = train::parse_schedule_kind(c.schedule);
  t.schedule.lr = c.lr;
  switch (t.schedule.kind) {
    case train::ScheduleConfig::Kind::Cosine:
      // Short runs (quick tests) keep a warmup, but shorter than training.
      t.schedule.warmup_epochs = std::min(c.warmup_epochs, c.epochs / 5.0);
      break;
    case train::ScheduleConfig::Kind::Step:
      // PyTorch's usual CIFAR milestones: 50% and 75% of training.
      t.schedule.milestones = {c.epochs / 2, c.epochs * 3 / 4};
      break;
    case train::ScheduleConfig::Kind::Plateau:
      // Keras ReduceLROnPlateau as the blog used it.
      t.schedule.monitor = train::Monitor::ValAccuracy;
      t.schedule.factor = 0.1;
      t.schedule.patience = 10;
      t.schedule.min_lr = 1e-5;
      break;
    default:
      break;
  }
  if (c.early_stopping) {
    train::EarlyStoppingConfig e;
    e.monitor = train::Monitor::ValAccuracy;
    e.patience = c.early_stopping_patience;
    e.restore_best = false;  // the blog keeps the last epoch's weights
    t.early_stopping = e;
  }
  t.log_file = log_file;
  t.checkpoint_file = checkpoint_file;
  t.print_progress = false;  // the app draws one progress line for the whole run
  return t;
}

}  // namespace rf::app
