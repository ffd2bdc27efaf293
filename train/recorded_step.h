#pragma once
// A training step's device work recorded once as a CUDA graph and replayed (--cuda-graphs on):
// ~200 launches of a ResNet50 step become one, and the host is free to prepare the next batch.
//
// The work (zeroing gradients, the targets (e.g. the dynamic refinery's frozen labeler), forward,
// loss, running metrics, backward) reads its batch from buffers that stay put: each batch's images
// and own targets are copied in before a replay. The first step at a shape runs eagerly (cuDNN
// chooses its algorithms, scratch buffers take their size), the second records the graph, every
// later one replays it; a graph whose scratch buffers moved since is recorded again, and batches of
// another shape (an epoch's short last batch) run eagerly. The optimizer's update is not recorded:
// its learning rate and bias corrections change every step, and it is one launch anyway.
#include <functional>
#include <memory>

#include "engine/tensor.h"

namespace rf::train {

class RecordedStep {
 public:
  using Work = std::function<void(const Tensor& images, const Tensor& targets)>;
  // Backend::record of the model's backend (tests pass a stand-in).
  using Recorder = std::function<std::unique_ptr<StepGraph>(const std::function<void()>& work)>;
  RecordedStep(Recorder recorder, Work work) : recorder_(std::move(recorder)), work_(std::move(work)) {}

  // targets may be undefined (a pass without them, e.g. precise batch-norm statistics): the
  // work then receives an undefined tensor.
  void run(const Tensor& images, const Tensor& targets);

 private:
  Recorder recorder_;
  Work work_;
  Tensor images_, targets_;  // the recorded shape's inputs
  std::unique_ptr<StepGraph> graph_;
  bool warmed_up_ = false;
};

// Backend::record of `device`'s backend (throws, naming the device, when it cannot record).
RecordedStep::Recorder backend_recorder(Device device);

}  // namespace rf::train
