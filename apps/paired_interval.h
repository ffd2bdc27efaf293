#pragma once
// Refined minus control, seed by seed: d_s = refined_s - control_s, whose mean +-
// t(0.975, n-1) * sd / sqrt(n) is the paired 95% confidence interval of the gain (Student t).
// The pairing removes what both runs of a seed share (split, initialization, batch order).
#include <vector>

#include "apps/results.h"

namespace rf::app {

// The t quantile with P(|T| < t) = 0.95 for `df` >= 1 degrees of freedom.
double student_t_975(int df);

struct PairedInterval {
  MeanStd difference;  // of d_s over seeds
  // Undefined (NaN) for a single seed: one difference says nothing about its spread.
  double low = 0, high = 0;
  bool defined() const { return difference.n > 1; }
};

PairedInterval paired_interval(const std::vector<double>& refined, const std::vector<double>& control);

}  // namespace rf::app
