#pragma once
// The profiler's DeviceTimer for the CUDA backend (engine/profiler.h): a pair of CUDA events
// recorded on the backend's stream around each profiler::Scope. An op's device time is then the
// time the stream took from everything queued before the op to the op's last work: its kernels,
// and any wait for the host between its launches (an op whose host side is slower than its
// kernels shows that host time here too). Nested Scopes would count the inner time twice; the
// engine's do not nest.
//
// Events come from a pool and go back to it once their times are read. Reading waits for the
// GPU, so it happens in totals() and, to bound the pool, when many intervals are pending (then
// only for the older half, long finished in a steady pipeline).
#include <cuda_runtime.h>

#include <array>
#include <mutex>
#include <string>
#include <vector>

#include "engine/profiler.h"

namespace rf {

class CudaDeviceTimer final : public profiler::DeviceTimer {
 public:
  explicit CudaDeviceTimer(cudaStream_t stream) : stream_(stream) {}
  ~CudaDeviceTimer() override;
  CudaDeviceTimer(const CudaDeviceTimer&) = delete;
  CudaDeviceTimer& operator=(const CudaDeviceTimer&) = delete;

  void begin(profiler::Op op) override;
  void end(profiler::Op op) noexcept override;
  void add_to(profiler::Totals& t) override;
  void reset() override;

 private:
  struct Interval {
    profiler::Op op;
    cudaEvent_t start, stop;
  };
  cudaEvent_t record();        // an event from the pool, recorded on the stream
  void harvest(size_t count);  // the `count` oldest closed intervals into seconds_

  std::mutex mutex_;  // Scopes may run on more than one thread
  cudaStream_t stream_;
  std::vector<cudaEvent_t> pool_;
  std::vector<Interval> open_;    // begun, not yet ended: a stack
  std::vector<Interval> closed_;  // in the order they ended, i.e. of their stop events
  std::array<double, profiler::kOpCount> seconds_{};
  std::string error_;  // the first failure of end(), thrown by add_to
};

}  // namespace rf
