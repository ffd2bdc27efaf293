#include "train/metrics.h"

#include <utility>

#include "engine/check.h"

namespace rf::train {

ConfusionMatrix::ConfusionMatrix(int classes)
    : classes_(classes), counts_(size_t(classes) * size_t(classes), 0) {
  RF_CHECK(classes > 0, "confusion matrix of " << classes << " classes");
}

ConfusionMatrix::ConfusionMatrix(int classes, std::vector<int64_t> counts)
    : classes_(classes), counts_(std::move(counts)) {
  RF_CHECK(classes > 0 && counts_.size() == size_t(classes) * size_t(classes),
           "confusion matrix of " << classes << " classes from " << counts_.size() << " counts");
  for (int t = 0; t < classes_; ++t)
    for (int p = 0; p < classes_; ++p) {
      const int64_t c = at(t, p);
      RF_CHECK(c >= 0, "confusion matrix: negative count " << c);
      total_ += c;
      if (t == p) correct_ += c;
    }
}

void ConfusionMatrix::add(int truth, int predicted) {
  RF_CHECK(truth >= 0 && truth < classes_ && predicted >= 0 && predicted < classes_,
           "confusion matrix: class " << truth << " / prediction " << predicted << " outside [0, "
                                      << classes_ << ")");
  ++counts_[size_t(truth) * size_t(classes_) + size_t(predicted)];
  ++total_;
  correct_ += truth == predicted;
}

int64_t ConfusionMatrix::at(int truth, int predicted) const {
  return counts_[size_t(truth) * size_t(classes_) + size_t(predicted)];
}

double ConfusionMatrix::accuracy() const { return total_ ? double(correct_) / double(total_) : 0; }

std::vector<double> ConfusionMatrix::per_class_accuracy() const {
  std::vector<double> out(size_t(classes_), 0);
  for (int t = 0; t < classes_; ++t) {
    int64_t row = 0;
    for (int p = 0; p < classes_; ++p) row += at(t, p);
    if (row) out[size_t(t)] = double(at(t, t)) / double(row);
  }
  return out;
}

int argmax(const float* values, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (values[i] > values[best]) best = i;
  return best;
}

}  // namespace rf::train
