#pragma once
// The running totals of a training or evaluation loop, kept as doubles in the backend's memory
// and updated one batch at a time by Backend::accumulate_metrics, so the loop never waits for the
// device until it reads them. Doubles: counts stay exact to 2^53, and the loss sum is the same
// double arithmetic the host did before (loss of each batch times its rows, added in order).
namespace rf {

enum MetricSlot : int {
  kLossSum = 0,        // sum over batches of loss * rows
  kCorrect,            // rows whose argmax (first maximum) is the label
  kSeen,               // rows
  kBatches,            // batches added, counted on the device (a replayed step graph adds too)
  kFirstBadBatch,      // the first batch (1-based count) whose loss was not finite; -1 while none
  kFirstBadLoss,       // that loss (NaN or +-inf)
  kMetricSlots
};

}  // namespace rf
