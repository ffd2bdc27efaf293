#include "train/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/check.h"
#include "train/metrics.h"

namespace rf::train {

double ReliabilityBin::mean_confidence() const {
  return count ? confidence_sum / double(count) : std::nan("");
}

double ReliabilityBin::accuracy() const { return count ? double(correct) / double(count) : std::nan(""); }

double expected_calibration_error(std::span<const ReliabilityBin> bins) {
  int64_t total = 0;
  for (const auto& b : bins) total += b.count;
  if (total == 0) return std::nan("");
  double ece = 0;
  for (const auto& b : bins)
    if (b.count) ece += double(b.count) / double(total) * std::abs(b.accuracy() - b.mean_confidence());
  return ece;
}

Calibration calibration(const data::SoftLabels& p, std::span<const std::int32_t> labels, int bins) {
  RF_CHECK(bins > 0, "calibration: " << bins << " bins");
  RF_CHECK(p.rows == labels.size(), "calibration: " << p.rows << " probability rows for " << labels.size()
                                                    << " labels");
  Calibration c;
  c.bins.resize(size_t(bins));
  const double floor = std::numeric_limits<float>::min();
  double nll_sum = 0;
  for (size_t i = 0; i < p.rows; ++i) {
    const std::span<const float> row = p.row(i);
    const int label = labels[i];
    RF_CHECK(label >= 0 && label < p.classes, "calibration: label " << label << " of sample " << i
                                                                    << " is not one of " << p.classes
                                                                    << " classes");
    const int predicted = argmax(row.data(), p.classes);
    const double confidence = row[size_t(predicted)];
    // Bin b holds (b/B, (b+1)/B]: ceil(conf * B) - 1, with 0 in the first bin.
    const int b = std::clamp(int(std::ceil(confidence * bins)) - 1, 0, bins - 1);
    ReliabilityBin& bin = c.bins[size_t(b)];
    ++bin.count;
    bin.confidence_sum += confidence;
    bin.correct += predicted == label;
    nll_sum -= std::log(std::max(double(row[size_t(label)]), floor));
  }
  int64_t correct = 0;
  for (const auto& b : c.bins) correct += b.correct;
  c.accuracy = p.rows ? double(correct) / double(p.rows) : std::nan("");
  c.ece = expected_calibration_error(c.bins);
  c.nll = p.rows ? nll_sum / double(p.rows) : std::nan("");
  return c;
}

}  // namespace rf::train
