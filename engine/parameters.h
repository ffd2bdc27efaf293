#pragma once
// The trainable parameters of a model, packed into one flat value buffer and one flat gradient
// buffer on a device. Each parameter is a leaf Variable whose value and gradient are views of
// those buffers, so an optimizer step is a single fused pass over every parameter.
#include <string>
#include <utility>
#include <vector>

#include "engine/variable.h"

namespace rf {

class ParameterSet {
 public:
  // Registers a parameter with its initial value (any device); returns the leaf Variable, which
  // stays valid across pack().
  Variable add(std::string name, const Tensor& init);
  // Moves every parameter into the flat buffers on `device` (again after adding more, or to
  // change device). Gradients start at zero.
  void pack(Device device);

  void zero_grad();
  bool packed() const { return values_.defined(); }
  const Tensor& values() const { return values_; }
  const Tensor& grads() const { return grads_; }
  int64_t numel() const;
  const std::vector<std::pair<std::string, Variable>>& named() const { return params_; }

 private:
  std::vector<std::pair<std::string, Variable>> params_;
  Tensor values_, grads_;
};

}  // namespace rf
