// Expected calibration error and NLL on constructed probabilities, against values worked out by
// hand: a calibrated set (each bin's accuracy equals its confidence) gives 0, an overconfident
// one the gap between its confidence and its accuracy.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/check.h"
#include "train/calibration.h"

using namespace rf;
using namespace rf::train;

namespace {

// Two-class samples: `n` of confidence `p` on class 0, of which `correct` are labelled 0.
void add_samples(data::SoftLabels& s, std::vector<int32_t>& labels, int n, float p, int correct) {
  s.classes = 2;
  for (int i = 0; i < n; ++i) {
    s.values.push_back(p);
    s.values.push_back(1 - p);
    labels.push_back(i < correct ? 0 : 1);
    ++s.rows;
  }
}

}  // namespace

TEST_CASE("a calibrated set has an ECE of 0") {
  data::SoftLabels s;
  std::vector<int32_t> labels;
  add_samples(s, labels, 10, 0.7f, 7);  // 70% sure, 70% right
  add_samples(s, labels, 20, 0.9f, 18);
  add_samples(s, labels, 4, 1.0f, 4);
  const Calibration c = calibration(s, labels);
  CHECK(c.ece == doctest::Approx(0).epsilon(1e-6));
  REQUIRE(c.bins.size() == 15);
  // Bin b holds confidences in (b/15, (b+1)/15]: 0.7 -> bin 10, 0.9 -> bin 13, 1.0 -> bin 14.
  CHECK(c.bins[10].count == 10);
  CHECK(c.bins[13].count == 20);
  CHECK(c.bins[14].count == 4);
  CHECK(c.bins[13].accuracy() == doctest::Approx(0.9));
  CHECK(c.bins[13].mean_confidence() == doctest::Approx(0.9));
  CHECK(std::isnan(c.bins[0].accuracy()));  // empty
  // NLL by hand: -(7 ln .7 + 3 ln .3 + 18 ln .9 + 2 ln .1 + 4 ln 1) / 34
  const double nll = -(7 * std::log(0.7) + 3 * std::log(0.3) + 18 * std::log(0.9) + 2 * std::log(0.1)) / 34;
  CHECK(c.nll == doctest::Approx(nll).epsilon(1e-6));
}

TEST_CASE("an overconfident set has the ECE of its confidence-accuracy gaps") {
  data::SoftLabels s;
  std::vector<int32_t> labels;
  add_samples(s, labels, 10, 0.95f, 7);  // gap 0.25
  add_samples(s, labels, 30, 0.55f, 15);  // gap 0.05
  const Calibration c = calibration(s, labels);
  CHECK(c.ece == doctest::Approx(0.25 * 10 / 40 + 0.05 * 30 / 40).epsilon(1e-6));
  CHECK(c.accuracy == doctest::Approx(22.0 / 40));
  // The most probable class is what counts as the prediction, whichever column it is in.
  data::SoftLabels flipped = s;
  std::vector<int32_t> flipped_labels = labels;
  for (size_t i = 0; i < flipped.rows; ++i) {
    std::swap(flipped.values[2 * i], flipped.values[2 * i + 1]);
    flipped_labels[i] = 1 - flipped_labels[i];
  }
  CHECK(calibration(flipped, flipped_labels).ece == doctest::Approx(c.ece).epsilon(1e-9));
  // Bins pool by adding: the ECE of two halves added together is the whole's.
  data::SoftLabels a, b;
  std::vector<int32_t> la, lb;
  add_samples(a, la, 10, 0.95f, 7);
  add_samples(b, lb, 30, 0.55f, 15);
  std::vector<ReliabilityBin> pooled = calibration(a, la).bins;
  const std::vector<ReliabilityBin> other = calibration(b, lb).bins;
  for (size_t i = 0; i < pooled.size(); ++i) {
    pooled[i].count += other[i].count;
    pooled[i].confidence_sum += other[i].confidence_sum;
    pooled[i].correct += other[i].correct;
  }
  CHECK(expected_calibration_error(pooled) == doctest::Approx(c.ece).epsilon(1e-9));
}

TEST_CASE("a probability of 0 for the true class gives a finite NLL; bad input is refused") {
  data::SoftLabels s;
  std::vector<int32_t> labels;
  add_samples(s, labels, 1, 1.0f, 0);  // certain and wrong
  const Calibration c = calibration(s, labels);
  CHECK(std::isfinite(c.nll));
  CHECK(c.nll > 80);  // -ln(FLT_MIN) = 87.3
  CHECK(c.ece == doctest::Approx(1));
  labels.push_back(0);
  CHECK_THROWS_AS(calibration(s, labels), Error);  // one row, two labels
  labels = {2};
  CHECK_THROWS_AS(calibration(s, labels), Error);  // no class 2
}
