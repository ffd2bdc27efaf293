#include "engine/cuda/cuda_device_timer.h"

#include <cstddef>
#include <exception>
#include <initializer_list>

#include "engine/check.h"
#include "kernels/cuda/check.cuh"

namespace rf {
namespace {

// Closed intervals kept before the older half is read (about 8 ResNet50 training steps).
constexpr size_t kMaxClosed = 4096;

}  // namespace

CudaDeviceTimer::~CudaDeviceTimer() {
  // Errors are moot here: the timer lives as long as the backend, i.e. until exit.
  for (cudaEvent_t e : pool_) cudaEventDestroy(e);
  for (const std::vector<Interval>* v : {&open_, &closed_})
    for (const Interval& i : *v) {
      cudaEventDestroy(i.start);
      if (i.stop != nullptr) cudaEventDestroy(i.stop);
    }
}

cudaEvent_t CudaDeviceTimer::record() {
  cudaEvent_t e = nullptr;
  if (pool_.empty()) {
    RF_CUDA_CHECK(cudaEventCreate(&e));
  } else {
    e = pool_.back();
    pool_.pop_back();
  }
  // Re-recording an event whose earlier record is still pending is allowed (it is overwritten).
  const cudaError_t err = cudaEventRecord(e, stream_);
  if (err != cudaSuccess) {
    pool_.push_back(e);
    RF_CUDA_CHECK(err);
  }
  return e;
}

void CudaDeviceTimer::begin(profiler::Op op) {
  const std::lock_guard lock(mutex_);
  open_.push_back({op, record(), nullptr});
}

// Runs in a Scope's destructor, possibly while an exception unwinds: it must not throw, so a
// failure is kept and thrown by the next add_to (profiler::totals()).
void CudaDeviceTimer::end(profiler::Op op) noexcept {
  const std::lock_guard lock(mutex_);
  try {
    RF_CHECK(!open_.empty() && open_.back().op == op,
             "end(" << profiler::op_name(op) << ") without its begin");
    Interval i = open_.back();
    open_.pop_back();
    try {
      i.stop = record();
    } catch (...) {
      pool_.push_back(i.start);
      throw;
    }
    closed_.push_back(i);
    if (closed_.size() >= kMaxClosed) harvest(closed_.size() / 2);
  } catch (const std::exception& e) {
    if (error_.empty()) error_ = e.what();
  }
}

void CudaDeviceTimer::harvest(size_t count) {
  if (count == 0) return;
  // One stream: once the last of these stop events has completed, every earlier event has too.
  RF_CUDA_CHECK(cudaEventSynchronize(closed_[count - 1].stop));
  std::vector<float> ms(count);
  for (size_t k = 0; k < count; ++k)
    RF_CUDA_CHECK(cudaEventElapsedTime(&ms[k], closed_[k].start, closed_[k].stop));
  for (size_t k = 0; k < count; ++k) {
    seconds_[size_t(closed_[k].op)] += 1e-3 * double(ms[k]);
    pool_.push_back(closed_[k].start);
    pool_.push_back(closed_[k].stop);
  }
  closed_.erase(closed_.begin(), closed_.begin() + std::ptrdiff_t(count));
}

void CudaDeviceTimer::add_to(profiler::Totals& t) {
  const std::lock_guard lock(mutex_);
  RF_CHECK(error_.empty(), "CUDA device timer: " << error_);
  harvest(closed_.size());
  for (size_t k = 0; k < seconds_.size(); ++k) t[k].device_seconds += seconds_[k];
}

void CudaDeviceTimer::reset() {
  const std::lock_guard lock(mutex_);
  for (const Interval& i : closed_) {
    pool_.push_back(i.start);
    pool_.push_back(i.stop);
  }
  closed_.clear();
  seconds_.fill(0);
}

}  // namespace rf
