#include "apps/progress_line.h"

#include <cmath>
#include <cstdio>

namespace rf::app {

namespace {
using Clock = std::chrono::steady_clock;
}

RunProgress::RunProgress(int total_generations)
    : total_(total_generations), live_(train::stdout_is_terminal()) {}

void RunProgress::start_generation(const std::string& label) {
  label_ = label;
  started_ = Clock::now();
}

double RunProgress::generation_elapsed() const {
  return std::chrono::duration<double>(Clock::now() - started_).count();
}

// Generations after the current one take as long as those timed so far, or as this one will.
double RunProgress::remaining_after_current(double current_total) const {
  const double per = timed_ > 0 ? timed_seconds_ / timed_ : current_total;
  return per * double(total_ - done_ - 1);
}

void RunProgress::batch(const train::BatchProgress& p) {
  if (!live_) return;
  const auto now = Clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(200) && p.batch != p.batches) return;
  last_draw_ = now;
  const double gen_eta = p.total_eta_seconds;
  const double all_eta = gen_eta + remaining_after_current(generation_elapsed() + gen_eta);
  std::printf("\r\033[K%s  epoch %d/%d  batch %zu/%zu  loss %.4f  acc %.1f%%  %.0f img/s  ETA %s (all %s)",
              label_.c_str(), p.epoch + 1, p.epochs, p.batch, p.batches, p.loss, 100 * p.accuracy,
              p.images_per_second, train::format_duration(gen_eta).c_str(),
              train::format_duration(all_eta).c_str());
  std::fflush(stdout);
}

void RunProgress::epoch(const train::EpochStats& s) {
  const double all_eta = s.eta_seconds + remaining_after_current(generation_elapsed() + s.eta_seconds);
  char val[64] = "val n/a";  // no validation split
  if (std::isfinite(s.val_accuracy))
    std::snprintf(val, sizeof val, "val loss %.4f  val acc %.1f%%", s.val_loss, 100 * s.val_accuracy);
  std::printf("%s%s  epoch %d/%d  loss %.4f  acc %.1f%%  %s  lr %.3g  %.0f img/s  %s  ETA %s (all %s)\n",
              live_ ? "\r\033[K" : "", label_.c_str(), s.epoch + 1, s.epochs, s.train_loss,
              100 * s.train_accuracy, val, s.lr, s.images_per_second,
              train::format_duration(s.epoch_seconds).c_str(), train::format_duration(s.eta_seconds).c_str(),
              train::format_duration(all_eta).c_str());
  std::fflush(stdout);
}

void RunProgress::finish_generation() {
  timed_seconds_ += generation_elapsed();
  ++timed_;
  ++done_;
}

void RunProgress::skip_generation() { ++done_; }

}  // namespace rf::app
