#pragma once
// Batch-norm statistics that fit the weights they are used with.
//
// Evaluation and labeling run batch norm on its running averages. With a small momentum (the
// blog's Keras ResNet50: 0.01) those averages lag the weights by ~100 steps, so after a short or
// fast-moving run they describe activations the network no longer produces, and eval-mode
// predictions collapse while training-mode ones are fine (seen on both backends and in PyTorch).
// Precise statistics (as fvcore's PreciseBN) replace each layer's running mean and variance by
// the plain average of its batch statistics over N batches, computed in training mode with the
// weights frozen.
#include <cstddef>

#include "data/loader.h"
#include "models/model.h"
#include "train/recorded_step.h"

namespace rf::train {

// Recomputes every batch-norm layer's running mean and (unbiased) variance as the average over
// the first `max_batches` batches of `loader`'s epoch 0. The model's mode and momenta are restored
// afterwards; no parameter changes. Returns the number of batches used (0: the model has no
// batch norm, or the loader yielded nothing, and nothing changed). Every batch's pass is the
// same device work (a forward at momentum 1, then the running buffers added to sums), so with a
// `recorder` (Backend::record, --cuda-graphs) it is recorded once and replayed (RecordedStep).
int recompute_batchnorm_statistics(models::Model& model, data::Loader& loader, int max_batches,
                                   const RecordedStep::Recorder& recorder = {});

// Accuracy of the same model on the same images with batch statistics (training mode, running
// averages left untouched) and with running statistics (eval mode). When they part, the running
// statistics do not describe the weights: evaluation and refined labels are then wrong.
struct ModeAccuracy {
  double train_mode = 0;
  double eval_mode = 0;
  std::size_t images = 0;
  // Eval mode more than `points` (fraction) below training mode.
  bool parted(double points = 0.10) const { return eval_mode < train_mode - points; }
};
ModeAccuracy compare_batchnorm_modes(models::Model& model, data::Loader& loader, int max_batches);

}  // namespace rf::train
