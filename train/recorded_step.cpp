#include "train/recorded_step.h"

#include "engine/check.h"

namespace rf::train {

void RecordedStep::run(const Tensor& images, const Tensor& targets) {
  if (!images_.defined()) {
    images_ = Tensor::empty(images.shape(), images.device());
    if (targets.defined()) targets_ = Tensor::empty(targets.shape(), targets.device());
  }
  const bool same_targets = targets.defined() ? targets_.defined() && targets.shape() == targets_.shape()
                                              : !targets_.defined();
  if (images.shape() != images_.shape() || !same_targets) {
    work_(images, targets);
    return;
  }
  images_.copy_from(images);
  if (targets.defined()) targets_.copy_from(targets);
  if (graph_ && graph_->stale()) {
    graph_.reset();
    warmed_up_ = false;
  }
  if (!graph_ && !warmed_up_) {
    work_(images_, targets_);
    warmed_up_ = true;
    return;
  }
  if (!graph_) graph_ = recorder_([this] { work_(images_, targets_); });
  graph_->launch();
}

RecordedStep::Recorder backend_recorder(Device device) {
  Backend& backend = backend_for(device);
  RF_CHECK(backend.can_record(), "CUDA graphs need the CUDA backend; the model is on " << device_name(device));
  return [&backend](const std::function<void()>& work) { return backend.record(work); };
}

}  // namespace rf::train
