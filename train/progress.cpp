#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace rf::train {

namespace {
// NaN (no validation) is not JSON: it is written as null.
Json number_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(); }
double number_or_nan(const Json& j) { return j.is_null() ? std::nan("") : j.get<double>(); }
}  // namespace

Json EpochStats::to_json() const {
  return Json::object({{"epoch", epoch + 1},
                       {"epochs", epochs},
                       {"train_loss", number_or_null(train_loss)},
                       {"train_accuracy", train_accuracy},
                       {"val_loss", number_or_null(val_loss)},
                       {"val_accuracy", number_or_null(val_accuracy)},
                       {"lr", lr},
                       {"images_per_second", images_per_second},
                       {"epoch_seconds", epoch_seconds},
                       {"train_seconds", number_or_null(train_seconds)},
                       {"evaluation_seconds", number_or_null(evaluation_seconds)},
                       {"elapsed_seconds", elapsed_seconds},
                       {"eta_seconds", eta_seconds}});
}

EpochStats EpochStats::from_json(const Json& j) {
  EpochStats s;
  const int epoch = json_integer<int>(j.at("epoch"));  // counted from 1 in the log
  RF_CHECK(epoch >= 1, "JSON: epoch " << epoch << ", counted from 1");
  s.epoch = epoch - 1;
  s.epochs = json_integer<int>(j.at("epochs"));
  s.train_loss = number_or_nan(j.at("train_loss"));
  s.train_accuracy = j.at("train_accuracy").get<double>();
  s.val_loss = number_or_nan(j.at("val_loss"));
  s.val_accuracy = number_or_nan(j.at("val_accuracy"));
  s.lr = j.at("lr").get<double>();
  s.images_per_second = j.at("images_per_second").get<double>();
  s.epoch_seconds = j.at("epoch_seconds").get<double>();
  s.train_seconds = j.contains("train_seconds") ? number_or_nan(j.at("train_seconds")) : std::nan("");
  s.evaluation_seconds =
      j.contains("evaluation_seconds") ? number_or_nan(j.at("evaluation_seconds")) : std::nan("");
  s.elapsed_seconds = j.at("elapsed_seconds").get<double>();
  s.eta_seconds = j.at("eta_seconds").get<double>();
  return s;
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

ConsolePrinter::ConsolePrinter(std::string label, bool live) : label_(std::move(label)), live_(live) {
  if (!label_.empty()) label_ += ' ';
}

void ConsolePrinter::batch(const BatchProgress& p) {
  if (!live_) return;
  // Redrawing more often than a few times a second only costs time.
  const auto now = std::chrono::steady_clock::now();
  if (p.batch != p.batches && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  std::printf("\r\033[K%sepoch %d/%d  batch %zu/%zu  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s (all %s)",
              label_.c_str(), p.epoch + 1, p.epochs, p.batch, p.batches, p.loss, 100 * p.accuracy,
              p.images_per_second, format_duration(p.epoch_eta_seconds).c_str(),
              format_duration(p.total_eta_seconds).c_str());
  std::fflush(stdout);
}

void ConsolePrinter::epoch(const EpochStats& s) {
  char val[64] = "val n/a";  // trained without a validation loader
  if (std::isfinite(s.val_accuracy))
    std::snprintf(val, sizeof val, "val_loss %.4f  val_acc %.2f%%", s.val_loss, 100 * s.val_accuracy);
  std::printf("%s%sepoch %d/%d  loss %.4f  acc %.2f%%  %s  lr %.3g  "
              "%.0f img/s  %s elapsed  ETA %s\n",
              live_ ? "\r\033[K" : "", label_.c_str(), s.epoch + 1, s.epochs, s.train_loss,
              100 * s.train_accuracy, val, s.lr, s.images_per_second,
              format_duration(s.elapsed_seconds).c_str(), format_duration(s.eta_seconds).c_str());
  std::fflush(stdout);
}

}  // namespace rf::train
