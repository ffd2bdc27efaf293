#pragma once
// Reverse-mode autograd in the style of flashlight: a Variable is a shared handle to a node that
// holds a value, its gradient, the input Variables it was computed from, and a closure that turns
// the node's gradient into its inputs' gradients. backward() runs the closures in reverse
// topological order; a Variable used twice (a residual connection) sums its gradients.
#include <functional>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace rf {

class Variable;
// Called with the node's inputs and its gradient; adds into the inputs' gradients.
using GradFn = std::function<void(std::vector<Variable>& inputs, const Tensor& grad)>;

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor value, bool requires_grad = false);

  // A result of an op: records the inputs and the closure unless grad mode is off or no input
  // requires a gradient, in which case it is a plain constant.
  static Variable from_op(Tensor value, std::vector<Variable> inputs, GradFn grad_fn);

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  bool requires_grad() const;
  const Tensor& grad() const;  // undefined until a backward pass reached this Variable
  bool has_grad() const;
  // Requires a gradient and was not computed by an op (a parameter, or an input being checked):
  // its gradient is an end of the backward pass, read by nothing in it.
  bool is_leaf() const;

  // Adds g into the gradient. The first gradient is taken by reference (no copy); later ones
  // are summed in place only into a tensor nobody else holds, so a tensor handed to several
  // inputs is never written through. A leaf's gradient is summed as concurrent work
  // (Backend::run_concurrently): nothing in the backward pass reads it, and backward() joins.
  void add_grad(const Tensor& g);
  // Gradients of this leaf accumulate in place into `buffer` (a view of a model's flat gradient),
  // so that one fused optimizer step can update every parameter.
  void bind_grad_buffer(const Tensor& buffer);
  // The bound buffer of a leaf (undefined for any other Variable). An op may add the leaf's
  // gradient straight into it (a backend call with `accumulate`) instead of add_grad: one write
  // instead of a new tensor, a write and a sum. It must add from where add_grad would: from
  // within concurrent work, or with the backend's concurrency off.
  const Tensor& grad_buffer() const;
  // Points this leaf at another tensor of the same shape (used when parameters are repacked).
  void rebind_value(const Tensor& value);
  void clear_grad();

  // Back-propagates from this Variable, seeded with ones (for a scalar loss: d loss/d loss = 1).
  // The graph is released as it is consumed; leaves keep their gradients. Ends with the
  // backend's join_concurrent(), so the leaves' gradients are complete when it returns.
  void backward();
  void backward(const Tensor& seed);

 private:
  struct Node;
  static void accumulate(Node& node, const Tensor& g);
  std::shared_ptr<Node> node_;
};

// Gradient recording is on by default; a NoGrad scope turns it off on this thread (inference,
// labeling the training set with a frozen model).
bool grad_enabled();
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

}  // namespace rf
