#pragma once
// The layers of the ResNets. Parameter names follow PyTorch (weight, bias, running_mean,
// running_var), so tools that know PyTorch's names find ours; tensors are stored in our layouts
// (conv weights KRSC, activations NHWC).
#include <memory>
#include <string>

#include "models/init.h"
#include "models/module.h"

namespace rf::models {

class Conv2d final : public Module {
 public:
  // Square kernel; zero padding `pad` on every side.
  Conv2d(int in, int out, int kernel, int stride, int pad, bool bias, Initializer& init);
  Variable forward(const Variable& x) override;

 private:
  int stride_, pad_;
  Variable weight_, bias_;
};

class BatchNorm2d final : public Module {
 public:
  // momentum in PyTorch's convention (running = (1 - m) * running + m * batch): Keras'
  // momentum 0.99 is 0.01 here.
  BatchNorm2d(int channels, float eps, float momentum);
  Variable forward(const Variable& x) override;
  // relu(bn(x) + residual) (residual may be undefined) as one op: the ResNet epilogue.
  Variable forward_relu(const Variable& x, const Variable& residual = Variable());
  float momentum() const { return momentum_; }
  // Precise statistics (train/batchnorm_statistics.h) set momentum 1, so that a training-mode
  // forward leaves its batch's statistics in the running buffers, and average those.
  void set_momentum(float momentum) { momentum_ = momentum; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }

 private:
  float eps_, momentum_;
  Variable gamma_, beta_;
  Tensor running_mean_, running_var_;
};

class Linear final : public Module {
 public:
  Linear(int in, int out, Initializer& init);
  Variable forward(const Variable& x) override;

 private:
  Variable weight_, bias_;
};

// Children applied in order.
class Sequential final : public Module {
 public:
  template <class M>
  M* add(std::string name, std::unique_ptr<M> m) {
    M* raw = add_child(std::move(name), std::move(m));
    order_.push_back(raw);
    return raw;
  }
  Variable forward(const Variable& x) override;

 private:
  std::vector<Module*> order_;
};

}  // namespace rf::models
