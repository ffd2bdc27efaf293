#include "train/running_metrics.h"

#include "engine/check.h"
#include "kernels/metric_totals.h"

namespace rf::train {

RunningMetrics::RunningMetrics(Device device, int classes, bool confusion)
    : backend_(backend_for(device)), classes_(classes), totals_(backend_, kMetricSlots * sizeof(double)) {
  RF_CHECK(classes > 0, "running metrics over " << classes << " classes");
  if (confusion)
    confusion_ = std::make_unique<Storage>(backend_, size_t(classes) * size_t(classes) * sizeof(int64_t));
  reset();
}

void RunningMetrics::reset() {
  double zero[kMetricSlots] = {};
  zero[kFirstBadBatch] = -1;
  backend_.copy_from_host(totals_.data(), zero, sizeof zero);
  if (confusion_) {
    const std::vector<int64_t> counts(size_t(classes_) * size_t(classes_), 0);
    backend_.copy_from_host(confusion_->data(), counts.data(), confusion_->bytes());
  }
}

void RunningMetrics::add(const Tensor& logits, const std::vector<int32_t>& labels,
                         const Tensor& loss) {
  set_labels(labels);
  accumulate(logits, loss);
}

void RunningMetrics::set_labels(const std::vector<int32_t>& labels) {
  for (const int32_t l : labels)
    RF_CHECK(l >= 0 && l < classes_, "metrics: label " << l << " outside [0, " << classes_ << ")");
  const size_t bytes = labels.size() * sizeof(int32_t);
  if (!labels_ || labels_->bytes() < bytes) labels_ = std::make_unique<Storage>(backend_, bytes);
  backend_.copy_from_host(labels_->data(), labels.data(), bytes);
  rows_ = int64_t(labels.size());
}

void RunningMetrics::accumulate(const Tensor& logits, const Tensor& loss) {
  RF_CHECK(logits.shape() == (Shape{rows_, classes_}) && &logits.backend() == &backend_,
           "metrics: logits " << shape_str(logits.shape()) << " on " << logits.backend().name()
                              << " for " << rows_ << " labels of " << classes_ << " classes on "
                              << backend_.name());
  RF_CHECK(!loss.defined() || (loss.numel() == 1 && &loss.backend() == &backend_),
           "metrics: the loss must be one value on " << backend_.name());
  if (rows_ == 0) return;
  backend_.accumulate_metrics(rows_, classes_, logits.data(), static_cast<const int32_t*>(labels_->data()),
                              loss.defined() ? loss.data() : nullptr,
                              static_cast<double*>(totals_.data()),
                              confusion_ ? static_cast<int64_t*>(confusion_->data()) : nullptr);
}

RunningMetrics::Totals RunningMetrics::read() const {
  double v[kMetricSlots];
  backend_.copy_to_host(v, totals_.data(), sizeof v);
  Totals t;
  t.loss_sum = v[kLossSum];
  t.correct = int64_t(v[kCorrect]);
  t.seen = int64_t(v[kSeen]);
  t.batches = int64_t(v[kBatches]);
  t.first_nonfinite_batch = int64_t(v[kFirstBadBatch]);
  t.first_nonfinite_loss = v[kFirstBadLoss];
  if (confusion_) {
    t.confusion.resize(size_t(classes_) * size_t(classes_));
    backend_.copy_to_host(t.confusion.data(), confusion_->data(), confusion_->bytes());
  }
  return t;
}

}  // namespace rf::train
