#pragma once
// Per-op time breakdown of the engine (bench_train --profile): where a training step's time goes,
// by kind of op. The op layer (engine/ops.cpp, each forward and each gradient closure), gradient
// accumulation (engine/variable.cpp), ParameterSet::zero_grad and the optimizer steps wrap their
// backend calls in a profiler::Scope. Off by default; when off a Scope is one branch on a global
// flag and records nothing. Turn it on from the thread that runs the ops, read totals(), reset().
//
// What a Scope measures: the host's wall-clock around the backend call. On the CPU backend that is
// the op's time (its OpenMP threads join before the call returns). Time outside every Scope
// (allocations, autograd bookkeeping, the graph walk, Python-free but not free host work) is what
// a caller reports as "other": the step's wall-clock minus the sum of the ops.
//
// GPU time: CUDA backend calls are asynchronous, so host wall-clock around them is launch cost
// only. A backend registers a DeviceTimer for its device (set_device_timer); each Scope on that
// device then also calls its begin/end, and totals() asks it to add its measured seconds to
// OpStats::device_seconds (after synchronizing). The CUDA backend registers one when it is
// created (engine/cuda/cuda_device_timer.h): a pair of CUDA events on the backend's stream around
// each Scope, so on CUDA device_seconds is the GPU's time per op; the CPU has none (its host time
// is the op's time).
#include <array>
#include <chrono>
#include <cstdint>

#include "engine/device.h"

namespace rf::profiler {

enum class Op : int {
  conv2d_forward,
  conv2d_backward_data,
  conv2d_backward_filter,
  batchnorm_forward,
  batchnorm_backward,
  relu_forward,
  relu_backward,
  pool_forward,  // max and global average pooling
  pool_backward,
  linear_forward,
  linear_backward,
  softmax_forward,
  softmax_backward,
  softmax_xent,     // the fused loss + gradient, and its backward (scaling by the upstream scalar)
  add,              // the add op (residual connections); its backward only accumulates
  scale,            // the scale op, forward and backward
  cast,             // float32 <-> bf16 (--precision bf16), forward and backward
  grad_accumulate,  // Variable::add_grad: summing a gradient into a parameter buffer or a sum
  zero_grad,        // ParameterSet::zero_grad
  optimizer_update, // Sgd / Adam step: one fused pass over every parameter
};
inline constexpr int kOpCount = int(Op::optimizer_update) + 1;
const char* op_name(Op op);

struct OpStats {
  int64_t calls = 0;
  double seconds = 0;         // host wall-clock inside the Scopes
  double device_seconds = 0;  // from a DeviceTimer; 0 where none is registered
};
using Totals = std::array<OpStats, kOpCount>;

namespace detail {
inline bool g_enabled = false;
}

inline bool enabled() { return detail::g_enabled; }
// Not meant to be toggled while ops run on other threads.
void set_enabled(bool on);
void reset();      // zeroes every total (and the registered DeviceTimers')
Totals totals();   // a copy of the totals so far

// Measures device time of the ops of one device. end() runs in a Scope's destructor.
class DeviceTimer {
 public:
  virtual ~DeviceTimer() = default;
  virtual void begin(Op op) = 0;
  virtual void end(Op op) = 0;
  virtual void add_to(Totals& t) = 0;  // adds its seconds into device_seconds (may synchronize)
  virtual void reset() = 0;
};
// Registers (or, with nullptr, removes) the timer of a device. The caller keeps ownership.
void set_device_timer(Device d, DeviceTimer* timer);

// Records the time from construction to destruction under `op`, when the profiler is enabled.
class Scope {
 public:
  Scope(Op op, Device device) {
    if (detail::g_enabled) [[unlikely]]
      begin(op, device);
  }
  ~Scope() {
    if (active_) [[unlikely]]
      end();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  void begin(Op op, Device device);
  void end();
  bool active_ = false;
  Op op_{};
  DeviceTimer* timer_ = nullptr;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace rf::profiler
