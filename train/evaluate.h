#pragma once
// Inference over a whole loader: in eval mode (batch norm on its running statistics) and without
// gradient recording; the model's previous mode is restored afterwards.
#include "data/loader.h"
#include "data/soft_labels.h"
#include "models/model.h"
#include "train/metrics.h"

namespace rf::train {

struct Evaluation {
  double loss = 0;  // mean cross-entropy against the batches' targets
  ConfusionMatrix confusion;  // against the hard labels
  double accuracy() const { return confusion.accuracy(); }
};

// One pass over `loader` (its epoch 0).
Evaluation evaluate(models::Model& model, data::Loader& loader);

// softmax(logits / temperature) for every sample the loader yields, as one row per dataset
// position (the batches' indices), so the loader may shuffle. `rows` is the dataset size; every
// row must be covered exactly once.
data::SoftLabels predict_probabilities(models::Model& model, data::Loader& loader, size_t rows,
                                       float temperature = 1.f);
// The logits themselves, rows as predict_probabilities.
data::SoftLabels predict_logits(models::Model& model, data::Loader& loader, size_t rows);

}  // namespace rf::train
