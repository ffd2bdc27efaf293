#include "train/early_stopping.h"

#include <cmath>
#include <limits>

#include "engine/check.h"

namespace rf::train {

Json EarlyStoppingConfig::to_json() const {
  return Json::object({{"monitor", monitor_name(monitor)},
                       {"min_delta", min_delta},
                       {"patience", patience},
                       {"restore_best", restore_best}});
}

EarlyStoppingConfig EarlyStoppingConfig::from_json(const Json& j) {
  EarlyStoppingConfig c;
  c.monitor = parse_monitor(j.at("monitor").get<std::string>());
  c.min_delta = j.at("min_delta").get<double>();
  c.patience = json_integer<int>(j.at("patience"));
  c.restore_best = j.at("restore_best").get<bool>();
  return c;
}

EarlyStopping::EarlyStopping(EarlyStoppingConfig c)
    : c_(c),
      best_(c.monitor == Monitor::ValAccuracy ? -std::numeric_limits<double>::infinity()
                                              : std::numeric_limits<double>::infinity()) {
  RF_CHECK(c.patience >= 0, "early stopping: negative patience " << c.patience);
  RF_CHECK(c.min_delta >= 0, "early stopping: negative min_delta " << c.min_delta);
}

EarlyStopping::Decision EarlyStopping::on_epoch_end(int epoch, double val_accuracy,
                                                    double val_loss) {
  const double current = c_.monitor == Monitor::ValAccuracy ? val_accuracy : val_loss;
  Decision d;
  ++wait_;
  d.improved = c_.monitor == Monitor::ValAccuracy ? current - c_.min_delta > best_
                                                  : current + c_.min_delta < best_;
  if (d.improved) {
    best_ = current;
    best_epoch_ = epoch;
    wait_ = 0;
  }
  d.stop = wait_ >= c_.patience && epoch > 0;
  return d;
}

Json EarlyStopping::state() const {
  return Json::object({{"best", std::isfinite(best_) ? Json(best_) : Json()},
                       {"wait", wait_},
                       {"best_epoch", best_epoch_}});
}

void EarlyStopping::load_state(const Json& s) {
  if (!s.at("best").is_null()) best_ = s.at("best").get<double>();
  wait_ = json_integer<int>(s.at("wait"));
  best_epoch_ = json_integer<int>(s.at("best_epoch"));
}

}  // namespace rf::train
