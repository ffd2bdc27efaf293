#pragma once
// Host-to-device copies that return without waiting for the GPU. The source is copied into one of
// a ring of page-locked buffers, from which the transfer runs asynchronously on the stream, so the
// caller may reuse its buffer at once (Backend::copy_from_host's contract) while the host goes on
// queueing the next training step. The host waits only when it is a whole ring of uploads ahead
// of the GPU. Copies above kMaxStaged (a dataset upload) go direct and wait: staging them would
// keep that much page-locked memory for good.
#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <mutex>

namespace rf {

class UploadStaging {
 public:
  explicit UploadStaging(cudaStream_t stream) : stream_(stream) {}
  UploadStaging(const UploadStaging&) = delete;
  UploadStaging& operator=(const UploadStaging&) = delete;
  ~UploadStaging();

  void copy(void* dst, const void* src, size_t bytes);

 private:
  static constexpr size_t kSlots = 12;  // a training step uploads 3 buffers: 4 steps of run-ahead
  static constexpr size_t kMaxStaged = size_t(64) << 20;

  struct Slot {
    void* host = nullptr;
    size_t capacity = 0;
    cudaEvent_t done = nullptr;  // recorded after the slot's last transfer
    bool in_flight = false;
  };

  cudaStream_t stream_;
  std::mutex mutex_;  // the backend is shared by every thread
  std::array<Slot, kSlots> slots_{};
  size_t next_ = 0;
};

}  // namespace rf
