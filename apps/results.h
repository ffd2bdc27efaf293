#pragma once
// What each generation of a chain measured, and the per-generation aggregates over seeds.
#include <string>
#include <vector>

#include "engine/json.h"
#include "train/calibration.h"

namespace rf::app {

struct GenerationResult {
  int seed_index = 0;
  int generation = 1;  // 1-based: R1, R2, ...; 0 is a --teacher (loaded, not trained)
  bool control = false;  // --control: generation's twin trained on the ground truth
  std::string model;
  double test_accuracy = 0;
  // Calibration on the test split (train/calibration.h); NaN in runs recorded before it was measured.
  double test_ece = 0;
  double test_nll = 0;
  std::vector<train::ReliabilityBin> reliability;
  double val_accuracy = 0;       // hard labels, the last epoch's weights
  double label_agreement = 0;    // argmax of this generation's labels == ground truth
  double label_entropy = 0;      // mean entropy (nats) of this generation's labels
  // Accuracy on up to 2,000 training images with batch statistics and with the running ones
  // (train/batchnorm_statistics.h); NaN in runs recorded before it was measured.
  double train_mode_accuracy = 0;
  double eval_mode_accuracy = 0;
  double train_seconds = 0;
  double images_per_second = 0;  // training steps
  int epochs_run = 0;
  bool stopped_early = false;

  Json to_json() const;
  static GenerationResult from_json(const Json& j);
};

// results[seed][generation - 1]
using ChainResults = std::vector<std::vector<GenerationResult>>;

struct MeanStd {
  double mean = 0, std = 0;  // sample standard deviation; 0 for a single value
  int n = 0;
};
MeanStd mean_std(const std::vector<double>& values);
// One value of every seed's generation `generation` (1-based).
std::vector<double> across_seeds(const ChainResults& r, int generation,
                                 double GenerationResult::*field);

// 100 * x with `decimals` decimals, or "n/a" where x is NaN (no validation split).
std::string percent_text(double x, int decimals);
// "68.7 ± 4.5" (percent) or "68.7" for one seed; "n/a" where there is no value.
std::string format_percent(const MeanStd& m);

// "0.412 ± 0.031" (not a percentage) or "0.412" for one seed; "n/a" where there is no value.
std::string format_number(const MeanStd& m, int decimals);

// The per-generation table (markdown-compatible, also readable on a terminal).
std::string summary_table(const ChainResults& r);

}  // namespace rf::app
