#pragma once
// What a model expects of its input and what its outputs mean, so that a model file alone can
// classify an image: the input size and layout, the per-channel normalization of the training
// split, and the class names. Written into the metadata of every model file and checkpoint
// (model_file.h); files written before it existed lack it and still load for training.
#include <string>
#include <vector>

#include "engine/safetensors_header.h"

namespace rf::models {

struct DataDescription {
  int height = 0;
  int width = 0;
  int channels = 0;
  // The model's input is NHWC float32, (px / 255 - mean[c]) / stddev[c] for uint8 pixels.
  std::vector<float> mean, stddev;
  std::vector<std::string> class_names;  // logit i is class_names[i]

  // Throws naming `where` unless sizes are positive and the vectors fit `channels`.
  void validate(const std::string& where) const;
  bool operator==(const DataDescription&) const = default;
};

// The metadata keys (values JSON, as the safetensors format wants strings).
TensorMetadata description_metadata(const DataDescription& d);
// The keys of description_metadata that `meta` lacks (empty: it describes its data).
std::vector<std::string> missing_description_keys(const TensorMetadata& meta);
// Parses the description out of `meta` (every key present); throws naming `where` when a value
// is malformed.
DataDescription parse_description(const TensorMetadata& meta, const std::string& where);

}  // namespace rf::models
