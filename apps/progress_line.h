#pragma once
// The live progress line of a whole run: generation, epoch, batch, loss, accuracy, images/s,
// ETA of the generation and of everything left (all seeds, all grid cells). Rewritten in place
// on a terminal; elsewhere one plain line per epoch.
#include <chrono>
#include <string>

#include "train/progress.h"

namespace rf::app {

class RunProgress {
 public:
  explicit RunProgress(int total_generations);

  void start_generation(const std::string& label);
  void batch(const train::BatchProgress& p);
  void epoch(const train::EpochStats& s);
  void finish_generation();
  void skip_generation();  // complete before a resume

 private:
  double generation_elapsed() const;
  double remaining_after_current(double current_total) const;

  int total_, done_ = 0, timed_ = 0;
  double timed_seconds_ = 0;
  bool live_;
  std::string label_;
  std::chrono::steady_clock::time_point started_, last_draw_;
};

}  // namespace rf::app
