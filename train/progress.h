#pragma once
// What a trainer reports while it runs, and the default console view of it: one live line
// rewritten in place (\r) when stdout is a terminal, plain lines (one per epoch) otherwise.
#include <chrono>
#include <cstddef>
#include <string>

#include "engine/json.h"

namespace rf::train {

struct BatchProgress {
  int epoch = 0, epochs = 0;  // 0-based epoch
  size_t batch = 0, batches = 0;  // batches done in this epoch
  double loss = 0, accuracy = 0;  // running means over the epoch so far
  double images_per_second = 0;
  double epoch_eta_seconds = 0, total_eta_seconds = 0;
};

struct EpochStats {
  int epoch = 0;  // 0-based
  int epochs = 0;
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;  // NaN without a validation loader
  double lr = 0;  // at the epoch's last step
  double images_per_second = 0;  // training steps only
  // Wall time from the previous epoch's figures (or the start of fit()) to this epoch's: the
  // previous epoch's checkpoint (its state copied off the device, the write before it awaited),
  // this epoch's steps, precise batch-norm statistics and validation. Of it, the steps took
  // train_seconds and the statistics and validation evaluation_seconds (0 without validation).
  // NaN where a log from before they were recorded is read.
  double epoch_seconds = 0;
  double train_seconds = 0;
  double evaluation_seconds = 0;
  double elapsed_seconds = 0;  // since training began, across resumes
  double eta_seconds = 0;      // for the remaining epochs, at this epoch's pace

  Json to_json() const;
  static EpochStats from_json(const Json& j);
};

bool stdout_is_terminal();
std::string format_duration(double seconds);  // "1h02m", "3m05s", "12s"

class ConsolePrinter {
 public:
  // `label` (e.g. "R2") starts every line; live: rewrite one line in place.
  ConsolePrinter(std::string label, bool live);
  void batch(const BatchProgress& p);
  void epoch(const EpochStats& s);

 private:
  std::string label_;
  bool live_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace rf::train
