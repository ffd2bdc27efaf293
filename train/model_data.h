#pragma once
// Between a model's DataDescription (models/, which knows nothing of data/) and the data layer:
// the description a training run writes into its model files, and the normalization and image
// conversion a model file asks of new data.
#include <functional>
#include <string>

#include "data/dataset.h"
#include "data/normalize.h"
#include "models/data_description.h"

namespace rf::train {

// The description of a model trained on `train` (its image size, channels and class names)
// normalized with `norm`.
models::DataDescription describe_data(const data::Dataset& train, const data::Normalization& norm);

data::Normalization normalization_of(const models::DataDescription& d);

// `d` made to fit a model's description, ready for its loader: resized to the model's input
// size and replicated from gray to RGB where the model takes 3 channels. Throws naming the
// dataset and the model file `model_file` where it cannot (color data for a gray model, other
// class names). `log` is told what was done.
data::Dataset fit_to_model(const data::Dataset& d, const models::DataDescription& model,
                           const std::string& model_file, const std::function<void(const std::string&)>& log);

}  // namespace rf::train
