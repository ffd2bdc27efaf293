#pragma once
// Learning-rate schedules. Each gives the rate for a 0-based optimizer step; ReduceLROnPlateau
// also reacts to a metric at the end of each epoch. A schedule's configuration and mutable state
// go to and from JSON, so a checkpoint resumes the same rates.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/json.h"

namespace rf::train {

enum class Monitor { ValAccuracy, ValLoss };  // what plateau / early stopping watch
const char* monitor_name(Monitor m);
Monitor parse_monitor(const std::string& s);  // "val_accuracy" | "val_loss"

struct ScheduleConfig {
  enum class Kind { Constant, Step, Cosine, OneCycle, Plateau };
  Kind kind = Kind::Constant;
  double lr = 1e-3;  // base rate; the peak rate of one-cycle

  // Step: lr * gamma^(number of milestones <= epoch), milestones in epochs (PyTorch MultiStepLR).
  std::vector<int> milestones;
  double gamma = 0.1;

  // Cosine: linear warmup from lr/warmup_steps to lr over warmup_epochs, then cosine decay to
  // final_lr at the last step.
  double warmup_epochs = 0;
  double final_lr = 0;

  // One-cycle (PyTorch OneCycleLR, cosine annealing, two phases): from lr/div_factor up to lr
  // over the first pct_start of the steps, then down to lr/(div_factor*final_div_factor).
  double pct_start = 0.3, div_factor = 25, final_div_factor = 1e4;

  // Plateau (Keras ReduceLROnPlateau): after `patience` epochs without an improvement larger
  // than min_delta, lr = max(lr * factor, min_lr), then `cooldown` epochs without counting.
  Monitor monitor = Monitor::ValAccuracy;
  double factor = 0.1, min_lr = 0, min_delta = 1e-4;
  int patience = 10, cooldown = 0;

  Json to_json() const;
  static ScheduleConfig from_json(const Json& j);
};
const char* schedule_kind_name(ScheduleConfig::Kind k);
ScheduleConfig::Kind parse_schedule_kind(const std::string& s);  // constant|step|cosine|onecycle|plateau

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr(int64_t step) const = 0;
  // Told the epoch's validation accuracy and loss once per epoch; most schedules ignore it.
  virtual void on_epoch_end(double /*val_accuracy*/, double /*val_loss*/) {}
  virtual Json state() const { return Json::object(); }
  virtual void load_state(const Json& /*state*/) {}
};

// steps_per_epoch and epochs fix the length of the decaying schedules.
std::unique_ptr<LrSchedule> make_schedule(const ScheduleConfig& c, int64_t steps_per_epoch,
                                          int epochs);

}  // namespace rf::train
