#pragma once
// Keras-style EarlyStopping: stop when the monitored metric has not improved by more than
// min_delta for `patience` epochs. The caller keeps the best weights when restore_best is set
// (it knows what "the weights" are); this class only decides.
#include "engine/json.h"
#include "train/schedule.h"

namespace rf::train {

struct EarlyStoppingConfig {
  Monitor monitor = Monitor::ValAccuracy;
  double min_delta = 0;
  int patience = 10;
  bool restore_best = false;  // the blog keeps the last epoch's weights

  Json to_json() const;
  static EarlyStoppingConfig from_json(const Json& j);
};

class EarlyStopping {
 public:
  explicit EarlyStopping(EarlyStoppingConfig c);

  struct Decision {
    bool improved = false;  // a new best: the caller snapshots the weights if restore_best
    bool stop = false;
  };
  // Keras EarlyStopping.on_epoch_end for 0-based `epoch` (Keras never stops after epoch 0).
  Decision on_epoch_end(int epoch, double val_accuracy, double val_loss);

  const EarlyStoppingConfig& config() const { return c_; }
  int best_epoch() const { return best_epoch_; }  // -1 before the first epoch
  double best() const { return best_; }
  Json state() const;
  void load_state(const Json& s);

 private:
  EarlyStoppingConfig c_;
  double best_;
  int wait_ = 0;
  int best_epoch_ = -1;
};

}  // namespace rf::train
