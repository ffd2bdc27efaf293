#pragma once
// Classification metrics from (true class, predicted class) pairs.
#include <cstdint>
#include <vector>

namespace rf::train {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes);
  // From counts laid out as counts() (classes x classes, row-major [truth][predicted]).
  ConfusionMatrix(int classes, std::vector<int64_t> counts);
  void add(int truth, int predicted);

  int classes() const { return classes_; }
  int64_t total() const { return total_; }
  // Samples of class `truth` predicted as `predicted`.
  int64_t at(int truth, int predicted) const;
  double accuracy() const;  // 0 when empty
  // Per true class: the fraction predicted correctly; 0 for a class with no samples.
  std::vector<double> per_class_accuracy() const;
  const std::vector<int64_t>& counts() const { return counts_; }  // row-major [truth][predicted]

 private:
  int classes_;
  int64_t total_ = 0, correct_ = 0;
  std::vector<int64_t> counts_;
};

// Index of the largest of n values (the first on ties).
int argmax(const float* values, int n);

}  // namespace rf::train
