#include "kernels/cpu/metrics.h"

#include <cmath>

#include "kernels/metric_totals.h"

namespace rf::cpu {

void accumulate_metrics(int64_t rows, int cols, const float* logits, const int32_t* labels,
                        const float* loss, double* totals, int64_t* confusion) {
  int64_t correct = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* v = logits + r * cols;
    int best = 0;  // the first maximum; a NaN never wins unless it comes first
    for (int j = 1; j < cols; ++j)
      if (v[j] > v[best]) best = j;
    correct += best == labels[r];
    if (confusion != nullptr) ++confusion[int64_t(labels[r]) * cols + best];
  }
  totals[kCorrect] += double(correct);
  totals[kSeen] += double(rows);
  totals[kBatches] += 1;
  if (loss == nullptr) return;
  totals[kLossSum] += double(*loss) * double(rows);
  if (!std::isfinite(*loss) && totals[kFirstBadBatch] < 0) {
    totals[kFirstBadBatch] = totals[kBatches];
    totals[kFirstBadLoss] = double(*loss);
  }
}

}  // namespace rf::cpu
