#include "train/evaluate.h"

#include <cmath>
#include <functional>

#include "engine/check.h"
#include "engine/ops.h"
#include "train/batch_tensors.h"

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
  Evaluation e{0, ConfusionMatrix(model.classes())};
  double loss_sum = 0;
  loader.start_epoch(0);
  while (data::BatchPtr b = loader.next()) {
    RF_CHECK(b->classes == model.classes(), "evaluate: batches of " << b->classes
                                                                    << " classes for a model of "
                                                                    << model.classes());
    const Variable logits = model.forward(Variable(batch_images(*b, model.device())));
    const Variable loss = softmax_cross_entropy(logits, batch_targets(*b, model.device()));
    loss_sum += double(loss.value().item()) * double(b->size);
    const std::vector<float> l = logits.value().to_host();
    for (size_t i = 0; i < b->size; ++i)
      e.confusion.add(b->labels[i], argmax(l.data() + i * size_t(b->classes), b->classes));
  }
  e.loss = e.confusion.total() ? loss_sum / double(e.confusion.total()) : 0;
  return e;
}

namespace {

// `output(logits)` of every sample, one row per dataset position.
data::SoftLabels predict_rows(models::Model& model, data::Loader& loader, size_t rows,
                              const std::function<Variable(const Variable&)>& output) {
  EvalMode eval(model);
  NoGrad no_grad;
  data::SoftLabels out;
  out.rows = rows;
  out.classes = model.classes();
  out.values.assign(rows * size_t(out.classes), 0.f);
  std::vector<char> seen(rows, 0);
  loader.start_epoch(0);
  while (data::BatchPtr b = loader.next()) {
    const std::vector<float> p = output(model.forward(Variable(batch_images(*b, model.device())))).value().to_host();
    for (size_t i = 0; i < b->size; ++i) {
      const size_t row = b->indices[i];
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
