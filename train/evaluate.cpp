#include "train/evaluate.h"

#include <cmath>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "engine/check.h"
#include "engine/ops.h"
#include "train/batch_tensors.h"
#include "train/running_metrics.h"

namespace rf::train {

namespace {

// Puts the model in eval mode for a scope and restores its mode after.
class EvalMode {
 public:
  explicit EvalMode(models::Model& m) : m_(m), was_training_(m.training()) { m.set_training(false); }
  ~EvalMode() { m_.set_training(was_training_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  models::Model& m_;
  bool was_training_;
};

}  // namespace

Evaluation evaluate(models::Model& model, data::Loader& loader, const RecordedStep::Recorder& recorder) {
  EvalMode eval(model);
  NoGrad no_grad;
  RunningMetrics metrics(model.device(), model.classes(), true);
  // Device work only (the batch's labels are uploaded before it), so it can be recorded.
  const auto pass = [&](const Tensor& images, const Tensor& targets) {
    const Variable logits = model.forward(Variable(images));
    metrics.accumulate(logits.value(), softmax_cross_entropy(logits, targets).value());
  };
  std::optional<RecordedStep> recorded;
  if (recorder) recorded.emplace(recorder, pass);
  loader.start_epoch(0);
  while (data::BatchPtr b = loader.next()) {
    RF_CHECK(b->classes == model.classes(), "evaluate: batches of " << b->classes
                                                                    << " classes for a model of "
                                                                    << model.classes());
    const Tensor images = batch_images(*b, model.device()), targets = batch_targets(*b, model.device());
    metrics.set_labels(b->labels);
    if (recorded)
      recorded->run(images, targets);
    else
      pass(images, targets);
  }
  RunningMetrics::Totals m = metrics.read();
  Evaluation e{m.seen ? m.loss_sum / double(m.seen) : 0,
               ConfusionMatrix(model.classes(), std::move(m.confusion))};
  return e;
}

namespace {

// `output(logits)` of every sample, one row per dataset position. The batches' outputs stay on the
// device until the loop has queued them all: one wait for the device, not one per batch.
data::SoftLabels predict_rows(models::Model& model, data::Loader& loader, size_t rows,
                              const std::function<Variable(const Variable&)>& output,
                              const RecordedStep::Recorder& recorder) {
  EvalMode eval(model);
  NoGrad no_grad;
  Tensor latest;  // the output of the batch just run
  // A recorded graph writes into buffers that stay put: batches of the first batch's shape leave
  // their output in `kept`, the first one's own buffer, and are copied out of it.
  Tensor kept;
  const auto pass = [&](const Tensor& images, const Tensor&) {
    latest = output(model.forward(Variable(images))).value();
    if (!recorder) return;
    if (!kept.defined()) {
      kept = latest;  // the first batch, always run eagerly
    } else if (latest.shape() == kept.shape()) {
      kept.copy_from(latest);
      latest = kept;
    }
  };
  std::optional<RecordedStep> recorded;
  if (recorder) recorded.emplace(recorder, pass);
  std::vector<std::pair<std::vector<size_t>, Tensor>> batches;
  loader.start_epoch(0);
  while (data::BatchPtr b = loader.next()) {
    const Tensor images = batch_images(*b, model.device());
    if (recorded)
      recorded->run(images, Tensor());
    else
      pass(images, Tensor());
    batches.emplace_back(b->indices, latest.shares_storage(kept) ? latest.clone() : latest);
  }
  data::SoftLabels out;
  out.rows = rows;
  out.classes = model.classes();
  out.values.assign(rows * size_t(out.classes), 0.f);
  std::vector<char> seen(rows, 0);
  for (const auto& [indices, values] : batches) {
    const std::vector<float> p = values.to_host();
    for (size_t i = 0; i < indices.size(); ++i) {
      const size_t row = indices[i];
      RF_CHECK(row < rows && !seen[row], "predict: sample " << row << " out of range or seen twice");
      seen[row] = 1;
      std::copy_n(p.data() + i * size_t(out.classes), out.classes,
                  out.values.data() + row * size_t(out.classes));
    }
  }
  for (size_t r = 0; r < rows; ++r)
    RF_CHECK(seen[r], "predict: the loader never yielded sample " << r << " of " << rows << " (drop_last?)");
  return out;
}

}  // namespace

data::SoftLabels predict_probabilities(models::Model& model, data::Loader& loader, size_t rows,
                                       float temperature, const RecordedStep::Recorder& recorder) {
  RF_CHECK(temperature > 0 && std::isfinite(temperature),
           "predict_probabilities: temperature " << temperature << " must be positive");
  return predict_rows(model, loader, rows, [temperature](const Variable& logits) {
    return softmax(temperature != 1.f ? scale(logits, 1.f / temperature) : logits);
  }, recorder);
}

data::SoftLabels predict_logits(models::Model& model, data::Loader& loader, size_t rows,
                                const RecordedStep::Recorder& recorder) {
  return predict_rows(model, loader, rows, [](const Variable& logits) { return logits; }, recorder);
}

}  // namespace rf::train
