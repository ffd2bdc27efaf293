#include "engine/optimizer.h"

#include "engine/check.h"
#include "engine/profiler.h"

namespace rf {

Sgd::Sgd(ParameterSet& params, SgdParams p) : params_(params), p_(p) {
  RF_CHECK(params.packed(), "Sgd: pack() the parameters first");
  velocity_ = Tensor::zeros({params.numel()}, params.values().device());
}

void Sgd::step() {
  const Tensor& w = params_.values();
  const profiler::Scope p(profiler::Op::optimizer_update, w.device());
  w.backend().sgd_update(w.numel(), p_, w.data(), params_.grads().data(), velocity_.data());
}

Adam::Adam(ParameterSet& params, AdamParams p) : params_(params), p_(p) {
  RF_CHECK(params.packed(), "Adam: pack() the parameters first");
  p_.step = 1;
  m_ = Tensor::zeros({params.numel()}, params.values().device());
  v_ = Tensor::zeros({params.numel()}, params.values().device());
}

void Adam::step() {
  const Tensor& w = params_.values();
  const profiler::Scope p(profiler::Op::optimizer_update, w.device());
  w.backend().adam_update(w.numel(), p_, w.data(), params_.grads().data(), m_.data(), v_.data());
  ++p_.step;
}

}  // namespace rf
