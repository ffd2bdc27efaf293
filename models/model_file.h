#pragma once
// A model's weights and batch-norm statistics as a safetensors file, with the architecture,
// class count and input channels in its metadata, so a file alone rebuilds its model (the
// refinery's frozen labeler, an evaluation). Training checkpoints (train/checkpoint.h) are the
// same files with optimizer and schedule state added.
#include <filesystem>
#include <memory>

#include "engine/safetensors.h"
#include "models/model.h"

namespace rf::models {

// The metadata that describes `model` (arch, classes, in_channels, tensor layouts).
TensorMetadata model_metadata(const Model& model);

// Atomic write of model.state() plus `extra` tensors and metadata.
void save_model(const Model& model, const std::filesystem::path& file,
                const TensorMetadata& extra_metadata = {}, const NamedTensors& extra_tensors = {});

// Copies every parameter and buffer of `model` from `f`, after checking the architecture and
// that names and shapes match (other tensors in the file must be under "train.").
// Nothing is written into the model unless the whole file fits it.
void load_model_state(Model& model, const SafetensorsFile& f);

// Builds the model the file describes (factory name from its metadata) and loads it.
std::unique_ptr<Model> load_model(const std::filesystem::path& file, Device device = Device::CPU);

}  // namespace rf::models
