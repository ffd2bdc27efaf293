#pragma once
// A device buffer that only grows, allocated from the stream-ordered pool on one stream. Work
// already queued on that stream may still use the old buffer when it grows: the stream-ordered
// free waits for it.
#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/check.cuh"

namespace rf {

// Counts the times any scratch buffer moved. A recorded step graph (step_graph.h) holds the
// addresses it was recorded with, so a move makes it stale.
inline std::atomic<uint64_t>& scratch_moves() {
  static std::atomic<uint64_t> moves{0};
  return moves;
}

class DeviceScratch {
 public:
  explicit DeviceScratch(cudaStream_t stream) : stream_(stream) {}
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  ~DeviceScratch() {
    if (data_ != nullptr) cudaFreeAsync(data_, stream_);  // errors at exit are moot
  }

  // At least `bytes` of device memory, valid for work queued on the stream from now on.
  void* get(size_t bytes) {
    if (bytes > capacity_) {
      constexpr size_t kGranule = size_t(1) << 20;  // fewer regrowths for slowly rising sizes
      const size_t want = (bytes + kGranule - 1) / kGranule * kGranule;
      if (data_ != nullptr) RF_CUDA_CHECK(cudaFreeAsync(data_, stream_));
      data_ = nullptr;
      capacity_ = 0;
      RF_CUDA_CHECK(cudaMallocAsync(&data_, want, stream_));
      capacity_ = want;
      ++scratch_moves();
    }
    return data_;
  }

 private:
  cudaStream_t stream_;
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace rf
