#include "engine/profiler.h"

#include <mutex>

namespace rf::profiler {
namespace {

std::mutex g_mutex;  // guards g_totals and g_timers (ops may run on more than one thread)
Totals g_totals{};
std::array<DeviceTimer*, 2> g_timers{};  // by Device

DeviceTimer* timer_for(Device d) { return g_timers[size_t(d)]; }

}  // namespace

const char* op_name(Op op) {
  switch (op) {
    case Op::conv2d_forward: return "conv2d fwd";
    case Op::conv2d_backward_data: return "conv2d bwd-data";
    case Op::conv2d_backward_filter: return "conv2d bwd-filter";
    case Op::batchnorm_forward: return "batchnorm fwd";
    case Op::batchnorm_backward: return "batchnorm bwd";
    case Op::relu_forward: return "relu fwd";
    case Op::relu_backward: return "relu bwd";
    case Op::pool_forward: return "pool fwd";
    case Op::pool_backward: return "pool bwd";
    case Op::linear_forward: return "linear fwd";
    case Op::linear_backward: return "linear bwd";
    case Op::softmax_forward: return "softmax fwd";
    case Op::softmax_backward: return "softmax bwd";
    case Op::softmax_xent: return "softmax_xent";
    case Op::add: return "add";
    case Op::scale: return "scale";
    case Op::cast: return "cast";
    case Op::grad_accumulate: return "grad accumulate";
    case Op::zero_grad: return "zero grad";
    case Op::optimizer_update: return "optimizer update";
  }
  return "?";
}

void set_enabled(bool on) { detail::g_enabled = on; }

void reset() {
  std::lock_guard lock(g_mutex);
  g_totals = Totals{};
  for (DeviceTimer* t : g_timers)
    if (t) t->reset();
}

Totals totals() {
  std::lock_guard lock(g_mutex);
  Totals t = g_totals;
  for (DeviceTimer* dt : g_timers)
    if (dt) dt->add_to(t);
  return t;
}

void set_device_timer(Device d, DeviceTimer* timer) {
  std::lock_guard lock(g_mutex);
  g_timers[size_t(d)] = timer;
}

void Scope::begin(Op op, Device device) {
  active_ = true;
  op_ = op;
  {
    std::lock_guard lock(g_mutex);
    timer_ = timer_for(device);
  }
  if (timer_) timer_->begin(op);
  t0_ = std::chrono::steady_clock::now();
}

void Scope::end() {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  if (timer_) timer_->end(op_);
  std::lock_guard lock(g_mutex);
  OpStats& o = g_totals[size_t(op_)];
  ++o.calls;
  o.seconds += s;
}

}  // namespace rf::profiler
