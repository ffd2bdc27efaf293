#pragma once
// A model's weights and batch-norm statistics as a safetensors file, with the architecture,
// class count and input channels in its metadata, so a file alone rebuilds its model (the
// refinery's frozen labeler, an evaluation), and the model's DataDescription (input size,
// normalization, class names) where it has one, so a file alone classifies images. Training
// checkpoints (train/checkpoint.h) are the same files with optimizer and schedule state added.
#include <filesystem>
#include <memory>
#include <string>

#include "engine/safetensors.h"
#include "models/model.h"

namespace rf::models {

// The metadata 'format' of a model file and of a training checkpoint.
inline constexpr const char* kModelFileFormat = "rf-model";
inline constexpr const char* kCheckpointFileFormat = "rf-training-checkpoint";

// The metadata that describes `model` (arch, classes, in_channels, tensor layouts, and its
// description when it has one).
TensorMetadata model_metadata(const Model& model);

// The contents of the file `file` holding model.state() plus `extra` tensors and metadata, in
// host memory (write it with write_safetensors, on any thread).
SafetensorsContents model_file_contents(const Model& model, const std::filesystem::path& file,
                                        const TensorMetadata& extra_metadata = {},
                                        const NamedTensors& extra_tensors = {});

// Atomic write of model.state() plus `extra` tensors and metadata.
void save_model(const Model& model, const std::filesystem::path& file,
                const TensorMetadata& extra_metadata = {}, const NamedTensors& extra_tensors = {});

// Copies every parameter and buffer of `model` from `f`, after checking the architecture and
// that names and shapes match (other tensors in the file must be under "train.").
// Nothing is written into the model unless the whole file fits it.
void load_model_state(Model& model, const SafetensorsFile& f);

// Builds the model the file describes (factory name from its metadata) and loads it, with its
// DataDescription when the file has every key of one.
std::unique_ptr<Model> load_model(const std::filesystem::path& file, Device device = Device::CPU);
std::unique_ptr<Model> load_model(const SafetensorsFile& f, Device device = Device::CPU);

// load_model for a use that needs the description (`purpose`, e.g. "predict"): a file without
// one gets an error naming the file and the metadata it lacks.
std::unique_ptr<Model> load_described_model(const std::filesystem::path& file, Device device,
                                            const std::string& purpose);

}  // namespace rf::models
