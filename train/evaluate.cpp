#include "train/evaluate.h"

#include <cmath>
#include <functional>
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

Evaluation evaluate(models::Model& model, data::Loader& loader) {
  EvalMode eval(model);
  NoGrad no_grad;
  RunningMetrics metrics(model.device(), model.classes(), true);
  loader.start_epoch(0);
  while (data::BatchPtr b = loader.next()) {
    RF_CHECK(b->classes == model.classes(), "evaluate: batches of " << b->classes
                                                                    << " classes for a model of "
                                                                    << model.classes());
    const Variable logits = model.forward(Variable(batch_images(*b, model.device())));
    const Variable loss = softmax_cross_entropy(logits, batch_targets(*b, model.device()));
    metrics.add(logits.value(), b->labels, loss.value());
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
                              const std::function<Variable(const Variable&)>& output) {
  EvalMode eval(model);
  NoGrad no_grad;
  std::vector<std::pair<std::vector<size_t>, Tensor>> batches;
  loader.start_epoch(0);
  while (data::BatchPtr b = loader.next())
    batches.emplace_back(b->indices, output(model.forward(Variable(batch_images(*b, model.device())))).value());
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
                                       float temperature) {
  RF_CHECK(temperature > 0 && std::isfinite(temperature),
           "predict_probabilities: temperature " << temperature << " must be positive");
  return predict_rows(model, loader, rows, [temperature](const Variable& logits) {
    return softmax(temperature != 1.f ? scale(logits, 1.f / temperature) : logits);
  });
}

data::SoftLabels predict_logits(models::Model& model, data::Loader& loader, size_t rows) {
  return predict_rows(model, loader, rows, [](const Variable& logits) { return logits; });
}

}  // namespace rf::train
