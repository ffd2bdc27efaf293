#pragma once
// Loss, accuracy, the first non-finite loss and (optionally) the confusion matrix of a loop over
// batches, summed where the model runs (Backend::accumulate_metrics). Adding a batch only queues
// work, so a GPU loop never waits for the device per batch; read() is the one synchronization,
// made once per epoch and, for progress lines, at most a few times a second.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace rf::train {

class RunningMetrics {
 public:
  RunningMetrics(Device device, int classes, bool confusion);

  void reset();
  // logits [n, classes]; labels n hard labels in [0, classes); loss a one-element tensor, or
  // undefined for a loop without one. Batches are counted from 1 since reset().
  void add(const Tensor& logits, const std::vector<int32_t>& labels, const Tensor& loss);
  // add() in two halves, for a captured step graph: the labels' upload (outside the graph, into
  // a buffer that stays put while batches keep their size) and the device work (inside it).
  void set_labels(const std::vector<int32_t>& labels);
  void accumulate(const Tensor& logits, const Tensor& loss);

  struct Totals {
    double loss_sum = 0;  // sum over batches of loss * rows
    int64_t correct = 0, seen = 0, batches = 0;
    int64_t first_nonfinite_batch = -1;  // -1: every loss was finite
    double first_nonfinite_loss = 0;
    std::vector<int64_t> confusion;  // [truth][predicted], when asked for
  };
  Totals read() const;

 private:
  Backend& backend_;
  int classes_;
  Storage totals_;
  std::unique_ptr<Storage> confusion_;
  std::unique_ptr<Storage> labels_;  // grows to the largest batch
  int64_t rows_ = 0;                 // labels set
};

}  // namespace rf::train
