#pragma once
// The same short training run with float32 activations and with bf16 ones (--precision bf16),
// from the same weights on the same batches: the bf16 path against the float32 one, which the
// rest of the suites pin down. Shared by the CPU test and its GPU twin.
#include <string>
#include <vector>

#include "data/loader.h"
#include "engine/ops.h"
#include "models/factory.h"
#include "synthetic.h"
#include "train/batch_tensors.h"
#include "train/optimizer_config.h"

namespace rf::test {

struct Bf16Run {
  std::vector<float> losses;        // one per step
  std::vector<float> eval_logits;   // eval mode, on the first batch, after the last step
};

// `model_name` on the synthetic 8x8 set, Adam 1e-3, batches of 16 in a fixed order, `steps` steps.
inline Bf16Run train_model(const std::string& model_name, DType activations, Device device,
                           int steps) {
  const data::Dataset set = synthetic_dataset(96, 3);
  data::Loader loader(set, loader_options(false));
  auto model = models::make_model(model_name, {.classes = 3, .seed = 11, .device = device});
  model->set_activation_dtype(activations);
  auto optimizer = train::make_optimizer(train::OptimizerConfig{}, model->parameters(), 1e-3f);
  Bf16Run run;
  uint64_t epoch = 0;
  loader.start_epoch(epoch);
  while (int(run.losses.size()) < steps) {
    data::BatchPtr b = loader.next();
    if (!b) {
      loader.start_epoch(++epoch);
      continue;
    }
    model->parameters().zero_grad();
    Variable loss = softmax_cross_entropy(model->forward(Variable(train::batch_images(*b, device))),
                                          train::batch_targets(*b, device));
    loss.backward();
    optimizer->step();
    run.losses.push_back(loss.value().item());
  }
  model->set_training(false);
  NoGrad no_grad;
  loader.start_epoch(0);
  run.eval_logits = model->forward(Variable(train::batch_images(*loader.next(), device))).value().to_host();
  return run;
}

inline Bf16Run train_resnet8(DType activations, Device device, int steps) {
  return train_model("resnet8", activations, device, steps);
}

}  // namespace rf::test
