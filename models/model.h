#pragma once
// A network ready to train: its module tree, the ParameterSet holding every parameter in one
// flat buffer on the model's device (what the fused optimizers update), and its buffers.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/ops.h"
#include "engine/parameters.h"
#include "models/data_description.h"
#include "models/module.h"

namespace rf::models {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Model {
 public:
  // `arch` names the architecture (recorded in checkpoints and checked when loading).
  Model(std::string arch, int classes, int in_channels, std::unique_ptr<Module> net,
        Device device = Device::CPU);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Logits [n, classes] (float32) for float32 NHWC images on the model's device; the layers
  // between compute on activations of activation_dtype().
  Variable forward(const Variable& images) { return net_->forward(cast(images, activation_dtype_)); }
  // BF16: --precision bf16, the images and every activation up to the pooled features stored as
  // bf16 (each convolution takes a bf16 copy of its float32 weights); F32 (the default) otherwise.
  // Parameters, statistics and gradients of parameters stay float32 either way.
  void set_activation_dtype(DType dtype) { activation_dtype_ = dtype; }
  DType activation_dtype() const { return activation_dtype_; }
  void set_training(bool training) { net_->set_training(training); }
  bool training() const { return net_->training(); }
  // Every module of the network, depth first (see Module::visit_modules).
  void visit_modules(const std::function<void(Module&)>& fn) { net_->visit_modules(fn); }

  // Moves parameters (repacked; gradients reset) and buffers. Optimizers made before a move
  // refer to the old buffers: make them after.
  void to(Device device);
  Device device() const { return device_; }

  ParameterSet& parameters() { return params_; }
  // Parameters, then buffers, by dotted name: the live tensors (writing them changes the model).
  NamedTensors state() const;
  // Copies values from `state` (same names and shapes, any device) into the model.
  void load_state(const NamedTensors& state);
  // A deep copy of state() (for keeping the best weights).
  NamedTensors snapshot() const;

  int64_t num_parameters() const { return params_.numel(); }
  int64_t num_buffer_values() const;
  const std::string& arch() const { return arch_; }
  int classes() const { return classes_; }
  int in_channels() const { return in_channels_; }

  // The data the model is for (its input and class names): written into its files, needed to
  // apply it to images. Absent in models loaded from files written before it existed.
  const std::optional<DataDescription>& description() const { return description_; }
  // Checks that `d` fits the model (channels, class count).
  void set_description(DataDescription d);

 private:
  std::string arch_;
  int classes_, in_channels_;
  std::optional<DataDescription> description_;
  std::unique_ptr<Module> net_;
  ParameterSet params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  Device device_;
  DType activation_dtype_ = DType::F32;
};

}  // namespace rf::models
