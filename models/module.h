#pragma once
// Modules in the style of flashlight: a layer or a network owns its parameters (leaf Variables),
// its buffers (tensors updated outside autograd, e.g. batch-norm running statistics) and its
// child modules, each registered under a name. Visiting a tree yields dotted names such as
// "stage2.block0.conv1.weight", which are the names in checkpoints.
//
// Modules never move once built (children are held by pointer), so registering the address of a
// member is safe; a Model later swaps each parameter for the one its ParameterSet owns.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/variable.h"

namespace rf::models {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Variable forward(const Variable& x) = 0;

  // Training mode (batch statistics, running averages updated) or eval mode (running
  // statistics), for this module and every descendant.
  void set_training(bool training);
  bool training() const { return training_; }

  using ParameterVisitor = std::function<void(const std::string& name, Variable& parameter)>;
  using BufferVisitor = std::function<void(const std::string& name, Tensor& buffer)>;
  // Depth first, in registration order; `prefix` is prepended with a dot.
  void visit_parameters(const ParameterVisitor& fn, const std::string& prefix = "");
  void visit_buffers(const BufferVisitor& fn, const std::string& prefix = "");
  // This module, then every descendant, depth first: for settings of one kind of layer (e.g. the
  // batch-norm momentum while statistics are recomputed).
  void visit_modules(const std::function<void(Module&)>& fn);

 protected:
  void register_parameter(std::string name, Variable* parameter);
  void register_buffer(std::string name, Tensor* buffer);
  template <class M>
  M* add_child(std::string name, std::unique_ptr<M> child) {
    M* raw = child.get();
    children_.emplace_back(std::move(name), std::move(child));
    return raw;
  }

 private:
  bool training_ = true;
  std::vector<std::pair<std::string, Variable*>> parameters_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
};

}  // namespace rf::models
