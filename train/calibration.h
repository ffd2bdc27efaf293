#pragma once
// Calibration of predicted probabilities against hard labels: expected calibration error over
// equal-width confidence bins (Guo et al. 2017, 15 bins), negative log-likelihood, and the bins
// themselves for a reliability diagram. Soft targets change a model's confidence, not only its
// accuracy, so the refinery reports both.
#include <cstdint>
#include <span>
#include <vector>

#include "data/soft_labels.h"

namespace rf::train {

constexpr int kCalibrationBins = 15;

// Samples whose confidence (largest probability) falls in (lower, upper]; the first bin also
// holds confidence 0. Sums, not means, so bins of several runs pool by adding.
struct ReliabilityBin {
  int64_t count = 0;
  double confidence_sum = 0;  // sum of the samples' confidences
  int64_t correct = 0;        // samples whose most probable class is the label
  double mean_confidence() const;  // NaN for an empty bin
  double accuracy() const;         // NaN for an empty bin
};

struct Calibration {
  double accuracy = 0;  // samples whose most probable class is the label
  double ece = 0;  // sum over bins of count/N * |accuracy - mean confidence|
  double nll = 0;  // mean -ln p(label); p floored at the smallest normal float
  std::vector<ReliabilityBin> bins;
};

// `probabilities` holds one distribution per sample, `labels` its class.
Calibration calibration(const data::SoftLabels& probabilities, std::span<const std::int32_t> labels,
                        int bins = kCalibrationBins);

// The ECE of bins (one run's, or several runs' added together).
double expected_calibration_error(std::span<const ReliabilityBin> bins);

}  // namespace rf::train
