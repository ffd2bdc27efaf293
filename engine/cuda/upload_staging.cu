#include "engine/cuda/upload_staging.h"

#include <cstring>

#include "engine/check.h"
#include "kernels/cuda/check.cuh"

namespace rf {

UploadStaging::~UploadStaging() {
  // Errors are moot here (the runtime may be unloading at exit).
  for (Slot& s : slots_) {
    if (s.in_flight) cudaEventSynchronize(s.done);
    if (s.done != nullptr) cudaEventDestroy(s.done);
    if (s.host != nullptr) cudaFreeHost(s.host);
  }
}

void UploadStaging::copy(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  // Recorded into a step graph, the transfer would replay from a slot long since reused.
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  RF_CUDA_CHECK(cudaStreamIsCapturing(stream_, &capturing));
  RF_CHECK(capturing == cudaStreamCaptureStatusNone,
           "a host-to-device copy of " << bytes << " bytes inside a recorded step graph");
  const std::lock_guard<std::mutex> lock(mutex_);
  if (bytes > kMaxStaged) {
    RF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    RF_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  Slot& s = slots_[next_];
  next_ = (next_ + 1) % kSlots;
  if (s.done == nullptr) RF_CUDA_CHECK(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
  if (s.in_flight) RF_CUDA_CHECK(cudaEventSynchronize(s.done));  // the GPU has read the slot
  s.in_flight = false;
  if (bytes > s.capacity) {
    if (s.host != nullptr) RF_CUDA_CHECK(cudaFreeHost(s.host));
    s.host = nullptr;
    s.capacity = 0;
    RF_CUDA_CHECK(cudaMallocHost(&s.host, bytes));
    s.capacity = bytes;
  }
  std::memcpy(s.host, src, bytes);
  RF_CUDA_CHECK(cudaMemcpyAsync(dst, s.host, bytes, cudaMemcpyHostToDevice, stream_));
  RF_CUDA_CHECK(cudaEventRecord(s.done, stream_));
  s.in_flight = true;
}

}  // namespace rf
