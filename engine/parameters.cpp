#include "engine/parameters.h"

#include "engine/check.h"
#include "engine/profiler.h"

namespace rf {

Variable ParameterSet::add(std::string name, const Tensor& init) {
  for (const auto& [n, v] : params_) RF_CHECK(n != name, "duplicate parameter name '" << name << "'");
  Variable v(init.clone(), true);
  params_.emplace_back(std::move(name), v);
  values_ = grads_ = Tensor();  // needs a new pack()
  return v;
}

int64_t ParameterSet::numel() const {
  int64_t n = 0;
  for (const auto& [name, v] : params_) n += v.value().numel();
  return n;
}

void ParameterSet::pack(Device device) {
  Tensor values = Tensor::empty({numel()}, device);
  Tensor grads = Tensor::zeros({numel()}, device);
  int64_t offset = 0;
  for (auto& [name, v] : params_) {
    const Shape& shape = v.value().shape();
    Tensor value = values.view(offset, shape);
    value.copy_from(v.value());
    v.rebind_value(value);
    v.bind_grad_buffer(grads.view(offset, shape));
    offset += value.numel();
  }
  values_ = values;
  grads_ = grads;
}

void ParameterSet::zero_grad() {
  RF_CHECK(packed(), "zero_grad() before pack()");
  const profiler::Scope p(profiler::Op::zero_grad, grads_.device());
  grads_.zero_();
}

}  // namespace rf
