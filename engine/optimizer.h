#pragma once
// Optimizers over a packed ParameterSet: one fused kernel call updates every parameter.
#include "engine/parameters.h"

namespace rf {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual float lr() const = 0;
  virtual void set_lr(float lr) = 0;
  // The optimizer's state buffers (for checkpoints), in a fixed order.
  virtual std::vector<Tensor> state() const = 0;
};

class Sgd final : public Optimizer {
 public:
  Sgd(ParameterSet& params, SgdParams p);
  void step() override;
  float lr() const override { return p_.lr; }
  void set_lr(float lr) override { p_.lr = lr; }
  std::vector<Tensor> state() const override { return {velocity_}; }

 private:
  ParameterSet& params_;
  SgdParams p_;
  Tensor velocity_;
};

class Adam final : public Optimizer {
 public:
  Adam(ParameterSet& params, AdamParams p);
  void step() override;
  float lr() const override { return p_.lr; }
  void set_lr(float lr) override { p_.lr = lr; }
  int steps_taken() const { return p_.step - 1; }
  // Resuming from a checkpoint: the bias correction continues from this step count.
  void set_steps_taken(int steps) { p_.step = steps + 1; }
  std::vector<Tensor> state() const override { return {m_, v_}; }

 private:
  ParameterSet& params_;
  AdamParams p_;
  Tensor m_, v_;
};

}  // namespace rf
