#include "train/batchnorm_statistics.h"

#include <optional>
#include <vector>

#include "engine/backend.h"
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

  // Every layer's running mean and variance, in layer order.
  std::vector<Tensor> running_buffers() const {
    std::vector<Tensor> out;
    for (const auto& layer : layers_) {
      out.push_back(layer.first->running_mean());
      out.push_back(layer.first->running_var());
    }
    return out;
  }

 private:
  models::Model& model_;
  bool was_training_;
  std::vector<std::pair<models::BatchNorm2d*, float>> layers_;
};

}  // namespace

int recompute_batchnorm_statistics(models::Model& model, data::Loader& loader, int max_batches,
                                   const RecordedStep::Recorder& recorder) {
  RF_CHECK(max_batches > 0, "precise batch-norm statistics over " << max_batches << " batches");
  BatchNormLayers bn(model);
  if (bn.empty()) return 0;
  model.set_training(true);
  bn.set_momentum(1.f);  // each forward leaves its batch's statistics in the running buffers
  NoGrad no_grad;
  // sums += the running buffers after each batch's forward: device work only, recordable.
  const std::vector<Tensor> running = bn.running_buffers();
  std::vector<Tensor> sums;
  for (const Tensor& r : running) sums.push_back(Tensor::zeros(r.shape(), r.device()));
  const auto pass = [&](const Tensor& images, const Tensor&) {
    model.forward(Variable(images));
    for (size_t i = 0; i < running.size(); ++i)
      running[i].backend().axpy(running[i].numel(), 1.f, running[i].data(), sums[i].data());
  };
  std::optional<RecordedStep> recorded;
  if (recorder) recorded.emplace(recorder, pass);
  loader.start_epoch(0);
  int used = 0;
  while (used < max_batches) {
    const data::BatchPtr b = loader.next();
    if (!b) break;
    const Tensor images = batch_images(*b, model.device());
    if (recorded)
      recorded->run(images, Tensor());
    else
      pass(images, Tensor());
    ++used;
  }
  for (size_t i = 0; used > 0 && i < running.size(); ++i)
    running[i].backend().scale(running[i].numel(), 1.f / float(used), sums[i].data(), running[i].data());
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
