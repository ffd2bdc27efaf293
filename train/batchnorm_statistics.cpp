#include "train/batchnorm_statistics.h"

#include <vector>

#include "engine/check.h"
#include "engine/ops.h"
#include "models/layers.h"
#include "train/batch_tensors.h"
#include "train/running_metrics.h"

namespace rf::train {

namespace {

// The model's batch-norm layers with their momenta, restored (with the mode) when it goes.
class BatchNormLayers {
 public:
  explicit BatchNormLayers(models::Model& m) : model_(m), was_training_(m.training()) {
    m.visit_modules([&](models::Module& mod) {
      if (auto* bn = dynamic_cast<models::BatchNorm2d*>(&mod)) layers_.push_back({bn, bn->momentum()});
    });
  }
  ~BatchNormLayers() {
    for (auto& [bn, momentum] : layers_) bn->set_momentum(momentum);
    model_.set_training(was_training_);
  }
  BatchNormLayers(const BatchNormLayers&) = delete;
  BatchNormLayers& operator=(const BatchNormLayers&) = delete;

  bool empty() const { return layers_.empty(); }
  void set_momentum(float m) {
    for (auto& layer : layers_) layer.first->set_momentum(m);
  }

 private:
  models::Model& model_;
  bool was_training_;
  std::vector<std::pair<models::BatchNorm2d*, float>> layers_;
};

}  // namespace

int recompute_batchnorm_statistics(models::Model& model, data::Loader& loader, int max_batches) {
  RF_CHECK(max_batches > 0, "precise batch-norm statistics over " << max_batches << " batches");
  BatchNormLayers bn(model);
  if (bn.empty()) return 0;
  model.set_training(true);
  NoGrad no_grad;
  loader.start_epoch(0);
  int used = 0;
  while (used < max_batches) {
    const data::BatchPtr b = loader.next();
    if (!b) break;
    // running = (1 - 1/k) * running + (1/k) * batch_k is the running mean of the k batches seen:
    // the first batch (momentum 1) replaces whatever the averages held.
    ++used;
    bn.set_momentum(1.f / float(used));
    model.forward(Variable(batch_images(*b, model.device())));
  }
  return used;
}

ModeAccuracy compare_batchnorm_modes(models::Model& model, data::Loader& loader, int max_batches) {
  BatchNormLayers bn(model);
  // Momentum 0 keeps the running averages exactly as they are during the training-mode pass.
  bn.set_momentum(0.f);
  NoGrad no_grad;
  ModeAccuracy r;
  RunningMetrics train_mode(model.device(), model.classes(), false);
  RunningMetrics eval_mode(model.device(), model.classes(), false);
  loader.start_epoch(0);
  for (int used = 0; used < max_batches; ++used) {
    const data::BatchPtr b = loader.next();
    if (!b) break;
    const Tensor images = batch_images(*b, model.device());
    for (bool training : {true, false}) {
      model.set_training(training);
      (training ? train_mode : eval_mode).add(model.forward(Variable(images)).value(), b->labels, Tensor());
    }
    r.images += b->size;
  }
  const int64_t correct_train = train_mode.read().correct, correct_eval = eval_mode.read().correct;
  if (r.images) {
    r.train_mode = double(correct_train) / double(r.images);
    r.eval_mode = double(correct_eval) / double(r.images);
  }
  return r;
}

}  // namespace rf::train
