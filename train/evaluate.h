#pragma once
// Inference over a whole loader: in eval mode (batch norm on its running statistics) and without
// gradient recording; the model's previous mode is restored afterwards.
//
// With a `recorder` (Backend::record, --cuda-graphs) the device work of a batch (the forward and
// what follows it on the device) is recorded once and replayed for every batch of the first
// batch's shape (RecordedStep: the first batch runs eagerly, the second records, a short last
// batch runs eagerly); the results are the eager pass's.
#include "data/loader.h"
#include "data/soft_labels.h"
#include "models/model.h"
#include "train/metrics.h"
#include "train/recorded_step.h"

namespace rf::train {

struct Evaluation {
  double loss = 0;  // mean cross-entropy against the batches' targets
  ConfusionMatrix confusion;  // against the hard labels
  double accuracy() const { return confusion.accuracy(); }
};

// One pass over `loader` (its epoch 0).
Evaluation evaluate(models::Model& model, data::Loader& loader, const RecordedStep::Recorder& recorder = {});

// softmax(logits / temperature) for every sample the loader yields, as one row per dataset
// position (the batches' indices), so the loader may shuffle. `rows` is the dataset size; every
// row must be covered exactly once.
data::SoftLabels predict_probabilities(models::Model& model, data::Loader& loader, size_t rows,
                                       float temperature = 1.f, const RecordedStep::Recorder& recorder = {});
// The logits themselves, rows as predict_probabilities.
data::SoftLabels predict_logits(models::Model& model, data::Loader& loader, size_t rows,
                                const RecordedStep::Recorder& recorder = {});

}  // namespace rf::train
