#include "engine/variable.h"

#include <unordered_set>

#include "engine/check.h"
#include "engine/profiler.h"

namespace rf {

struct Variable::Node {
  Tensor value;
  Tensor grad;
  bool requires_grad = false;
  bool grad_in_buffer = false;  // grad is a bound buffer: accumulate in place
  std::vector<Variable> inputs;
  GradFn grad_fn;
};

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGrad::NoGrad() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGrad::~NoGrad() { g_grad_enabled = previous_; }

Variable::Variable(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

Variable Variable::from_op(Tensor value, std::vector<Variable> inputs, GradFn grad_fn) {
  bool needs = false;
  if (g_grad_enabled)
    for (const Variable& in : inputs) needs = needs || (in.defined() && in.requires_grad());
  Variable out(std::move(value), needs);
  if (needs) {
    out.node_->inputs = std::move(inputs);
    out.node_->grad_fn = std::move(grad_fn);
  }
  return out;
}

const Tensor& Variable::value() const {
  RF_CHECK(defined(), "use of an undefined Variable");
  return node_->value;
}

bool Variable::requires_grad() const { return defined() && node_->requires_grad; }
const Tensor& Variable::grad() const { return node_->grad; }
bool Variable::has_grad() const { return defined() && node_->grad.defined(); }

bool Variable::is_leaf() const { return requires_grad() && !node_->grad_fn; }

void Variable::add_grad(const Tensor& g) {
  RF_CHECK(g.shape() == node_->value.shape(), "gradient of shape " << shape_str(g.shape())
                                                  << " for a value of shape "
                                                  << shape_str(node_->value.shape()));
  RF_CHECK(g.dtype() == node_->value.dtype(), "a " << dtype_name(g.dtype()) << " gradient for a "
                                                   << dtype_name(node_->value.dtype()) << " value");
  if (node_->grad_fn) {
    accumulate(*node_, g);
    return;
  }
  // The closure holds g (so it is neither freed nor summed into before the work runs) and the node.
  g.backend().run_concurrently([node = node_, g] { accumulate(*node, g); });
}

void Variable::accumulate(Node& node, const Tensor& g) {
  Tensor& acc = node.grad;
  if (node.grad_in_buffer) {
    const profiler::Scope p(profiler::Op::grad_accumulate, acc.device());
    acc.backend().axpy(acc.numel(), 1.f, g.data(), acc.data());
  } else if (!acc.defined()) {
    acc = g;
  } else {
    // A branch's gradient nobody else holds is summed in place: no new activation-sized buffer.
    const Tensor sum = acc.sole_owner() ? acc : Tensor::empty(acc.shape(), acc.device(), acc.dtype());
    {
      const profiler::Scope p(profiler::Op::grad_accumulate, acc.device());
      if (acc.dtype() == DType::F32)
        acc.backend().add(acc.numel(), acc.data(), g.data(), sum.data());
      else
        acc.backend().add(acc.numel(), acc.data_bf16(), g.data_bf16(), sum.data_bf16());
    }
    acc = sum;
  }
}

void Variable::bind_grad_buffer(const Tensor& buffer) {
  RF_CHECK(node_->inputs.empty(), "only leaf Variables take a gradient buffer");
  RF_CHECK(buffer.shape() == node_->value.shape(), "gradient buffer of shape "
                                                       << shape_str(buffer.shape())
                                                       << " for a value of shape "
                                                       << shape_str(node_->value.shape()));
  node_->grad = buffer;
  node_->grad_in_buffer = true;
}

const Tensor& Variable::grad_buffer() const {
  static const Tensor none;
  return defined() && node_->grad_in_buffer ? node_->grad : none;
}

void Variable::rebind_value(const Tensor& value) {
  RF_CHECK(value.shape() == node_->value.shape(), "rebinding a value of shape "
                                                      << shape_str(node_->value.shape())
                                                      << " to " << shape_str(value.shape()));
  node_->value = value;
}

void Variable::clear_grad() {
  if (node_->grad_in_buffer)
    node_->grad.zero_();
  else
    node_->grad = Tensor();
}

void Variable::backward() {
  backward(Tensor::full(value().shape(), 1.f, value().device()));
}

void Variable::backward(const Tensor& seed) {
  RF_CHECK(requires_grad(), "backward() on a Variable that does not require a gradient");
  // Reverse topological order by an iterative depth-first search (ResNets are deep graphs).
  // `order` owns its nodes: releasing a node's inputs below must not free nodes still to run.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{node_, 0}};
  seen.insert(node_.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const std::shared_ptr<Node>& child = node->inputs[next++].node_;
      if (child && child->requires_grad && !seen.count(child.get())) {
        seen.insert(child.get());
        stack.push_back({child, 0});
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  Backend& backend = seed.backend();
  // Joined on the way out, also when a closure throws: held work must not outlive the pass.
  struct Join {
    Backend& b;
    ~Join() {
      try {
        b.join_concurrent();
      } catch (...) {  // the exception in flight says what went wrong
      }
    }
  } join_on_exit{backend};
  add_grad(seed);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = it->get();
    if (!node->grad_fn) continue;  // a leaf
    RF_CHECK(node->grad.defined(), "internal: a node was reached without a gradient");
    node->grad_fn(node->inputs, node->grad);
    // Release the graph as it is consumed: saved activations and intermediate gradients go.
    node->grad_fn = nullptr;
    node->inputs.clear();
    node->grad = Tensor();
  }
  backend.join_concurrent();
}

}  // namespace rf
