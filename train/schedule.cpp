#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "engine/check.h"

namespace rf::train {

const char* monitor_name(Monitor m) { return m == Monitor::ValAccuracy ? "val_accuracy" : "val_loss"; }

Monitor parse_monitor(const std::string& s) {
  if (s == "val_accuracy") return Monitor::ValAccuracy;
  if (s == "val_loss") return Monitor::ValLoss;
  RF_CHECK(false, "unknown monitor '" << s << "' (expected val_accuracy or val_loss)");
  return Monitor::ValAccuracy;
}

const char* schedule_kind_name(ScheduleConfig::Kind k) {
  switch (k) {
    case ScheduleConfig::Kind::Constant: return "constant";
    case ScheduleConfig::Kind::Step: return "step";
    case ScheduleConfig::Kind::Cosine: return "cosine";
    case ScheduleConfig::Kind::OneCycle: return "onecycle";
    case ScheduleConfig::Kind::Plateau: return "plateau";
  }
  return "?";
}

ScheduleConfig::Kind parse_schedule_kind(const std::string& s) {
  for (auto k : {ScheduleConfig::Kind::Constant, ScheduleConfig::Kind::Step,
                 ScheduleConfig::Kind::Cosine, ScheduleConfig::Kind::OneCycle,
                 ScheduleConfig::Kind::Plateau})
    if (s == schedule_kind_name(k)) return k;
  RF_CHECK(false, "unknown schedule '" << s << "' (expected constant, step, cosine, onecycle or plateau)");
  return ScheduleConfig::Kind::Constant;
}

Json ScheduleConfig::to_json() const {
  return Json::object({{"kind", schedule_kind_name(kind)},
                       {"lr", lr},
                       {"milestones", milestones},
                       {"gamma", gamma},
                       {"warmup_epochs", warmup_epochs},
                       {"final_lr", final_lr},
                       {"pct_start", pct_start},
                       {"div_factor", div_factor},
                       {"final_div_factor", final_div_factor},
                       {"monitor", monitor_name(monitor)},
                       {"factor", factor},
                       {"min_lr", min_lr},
                       {"min_delta", min_delta},
                       {"patience", patience},
                       {"cooldown", cooldown}});
}

ScheduleConfig ScheduleConfig::from_json(const Json& j) {
  ScheduleConfig c;
  c.kind = parse_schedule_kind(j.at("kind").get<std::string>());
  c.lr = j.at("lr").get<double>();
  for (const Json& e : j.at("milestones")) c.milestones.push_back(json_integer<int>(e));
  c.gamma = j.at("gamma").get<double>();
  c.warmup_epochs = j.at("warmup_epochs").get<double>();
  c.final_lr = j.at("final_lr").get<double>();
  c.pct_start = j.at("pct_start").get<double>();
  c.div_factor = j.at("div_factor").get<double>();
  c.final_div_factor = j.at("final_div_factor").get<double>();
  c.monitor = parse_monitor(j.at("monitor").get<std::string>());
  c.factor = j.at("factor").get<double>();
  c.min_lr = j.at("min_lr").get<double>();
  c.min_delta = j.at("min_delta").get<double>();
  c.patience = json_integer<int>(j.at("patience"));
  c.cooldown = json_integer<int>(j.at("cooldown"));
  return c;
}

namespace {

class ConstantSchedule final : public LrSchedule {
 public:
  explicit ConstantSchedule(double lr) : lr_(lr) {}
  double lr(int64_t) const override { return lr_; }

 private:
  double lr_;
};

class StepSchedule final : public LrSchedule {
 public:
  StepSchedule(const ScheduleConfig& c, int64_t steps_per_epoch) : c_(c), spe_(steps_per_epoch) {}
  double lr(int64_t step) const override {
    const int64_t epoch = step / spe_;
    int passed = 0;
    for (int m : c_.milestones) passed += epoch >= m;
    return c_.lr * std::pow(c_.gamma, passed);
  }

 private:
  ScheduleConfig c_;
  int64_t spe_;
};

class CosineSchedule final : public LrSchedule {
 public:
  CosineSchedule(const ScheduleConfig& c, int64_t steps_per_epoch, int epochs)
      : c_(c),
        warmup_(int64_t(std::llround(c.warmup_epochs * double(steps_per_epoch)))),
        total_(steps_per_epoch * epochs) {
    RF_CHECK(warmup_ < total_, "cosine schedule: warmup of " << warmup_ << " steps is not shorter than the "
                                                             << total_ << " steps of training");
  }
  double lr(int64_t step) const override {
    if (step < warmup_) return c_.lr * double(step + 1) / double(warmup_);
    const double t = double(std::min(step, total_ - 1) - warmup_) / double(std::max<int64_t>(total_ - 1 - warmup_, 1));
    return c_.final_lr + (c_.lr - c_.final_lr) * 0.5 * (1 + std::cos(std::numbers::pi * t));
  }

 private:
  ScheduleConfig c_;
  int64_t warmup_, total_;
};

class OneCycleSchedule final : public LrSchedule {
 public:
  OneCycleSchedule(const ScheduleConfig& c, int64_t steps_per_epoch, int epochs)
      : max_(c.lr),
        initial_(c.lr / c.div_factor),
        min_(c.lr / c.div_factor / c.final_div_factor),
        peak_step_(c.pct_start * double(steps_per_epoch * epochs) - 1),
        last_step_(double(steps_per_epoch * epochs - 1)) {
    RF_CHECK(c.pct_start > 0 && c.pct_start < 1, "one-cycle: pct_start " << c.pct_start << " not in (0, 1)");
    RF_CHECK(peak_step_ > 0 && last_step_ > peak_step_,
             "one-cycle: " << steps_per_epoch * epochs << " steps are too few for two phases");
  }
  // PyTorch's OneCycleLR (anneal_strategy='cos', three_phase=False), step for step.
  double lr(int64_t step) const override {
    const double s = double(step);
    if (s <= peak_step_) return anneal(initial_, max_, s / peak_step_);
    return anneal(max_, min_, std::min(1.0, (s - peak_step_) / (last_step_ - peak_step_)));
  }

 private:
  static double anneal(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
  }
  double max_, initial_, min_, peak_step_, last_step_;
};

// Keras ReduceLROnPlateau.on_epoch_end, statement for statement (lr kept in float32 as Keras).
class PlateauSchedule final : public LrSchedule {
 public:
  explicit PlateauSchedule(const ScheduleConfig& c)
      : c_(c),
        lr_(float(c.lr)),
        best_(c.monitor == Monitor::ValAccuracy ? -std::numeric_limits<double>::infinity()
                                                : std::numeric_limits<double>::infinity()) {}
  double lr(int64_t) const override { return lr_; }
  void on_epoch_end(double val_accuracy, double val_loss) override {
    const double current = c_.monitor == Monitor::ValAccuracy ? val_accuracy : val_loss;
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      wait_ = 0;
    }
    if (improved(current)) {
      best_ = current;
      wait_ = 0;
    } else if (cooldown_counter_ == 0) {
      ++wait_;
      if (wait_ >= c_.patience && lr_ > float(c_.min_lr)) {
        lr_ = float(std::max(double(lr_) * c_.factor, c_.min_lr));
        cooldown_counter_ = c_.cooldown;
        wait_ = 0;
      }
    }
  }
  Json state() const override {
    // +-infinity (no epoch seen yet) is not JSON; null stands for it.
    return Json::object({{"lr", double(lr_)},
                         {"best", std::isfinite(best_) ? Json(best_) : Json()},
                         {"wait", wait_},
                         {"cooldown_counter", cooldown_counter_}});
  }
  void load_state(const Json& s) override {
    lr_ = float(s.at("lr").get<double>());
    if (!s.at("best").is_null()) best_ = s.at("best").get<double>();
    wait_ = json_integer<int>(s.at("wait"));
    cooldown_counter_ = json_integer<int>(s.at("cooldown_counter"));
  }

 private:
  bool improved(double current) const {
    return c_.monitor == Monitor::ValAccuracy ? current > best_ + c_.min_delta
                                              : current < best_ - c_.min_delta;
  }
  ScheduleConfig c_;
  float lr_;
  double best_;
  int wait_ = 0, cooldown_counter_ = 0;
};

}  // namespace

std::unique_ptr<LrSchedule> make_schedule(const ScheduleConfig& c, int64_t steps_per_epoch,
                                          int epochs) {
  RF_CHECK(c.lr > 0 && std::isfinite(c.lr), "learning rate " << c.lr << " must be positive");
  RF_CHECK(steps_per_epoch > 0 && epochs > 0,
           "schedule: " << steps_per_epoch << " steps per epoch, " << epochs << " epochs");
  switch (c.kind) {
    case ScheduleConfig::Kind::Constant: return std::make_unique<ConstantSchedule>(c.lr);
    case ScheduleConfig::Kind::Step: return std::make_unique<StepSchedule>(c, steps_per_epoch);
    case ScheduleConfig::Kind::Cosine:
      return std::make_unique<CosineSchedule>(c, steps_per_epoch, epochs);
    case ScheduleConfig::Kind::OneCycle:
      return std::make_unique<OneCycleSchedule>(c, steps_per_epoch, epochs);
    case ScheduleConfig::Kind::Plateau:
      RF_CHECK(c.factor > 0 && c.factor < 1, "plateau: factor " << c.factor << " not in (0, 1)");
      RF_CHECK(c.patience >= 0 && c.cooldown >= 0, "plateau: negative patience or cooldown");
      return std::make_unique<PlateauSchedule>(c);
  }
  return nullptr;
}

}  // namespace rf::train
