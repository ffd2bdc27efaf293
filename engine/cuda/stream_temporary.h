#pragma once
// Device memory for the span of one piece of work: allocated from the stream-ordered pool on a
// stream and freed there behind the work queued meanwhile, so it serves eagerly, on either lane,
// and inside a step-graph recording (an allocation node and a free node of the graph: recorded
// work frees what it allocates, as Backend::record asks). Not a scratch buffer: those grow, and a
// move makes recorded graphs stale.
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "engine/check.h"

namespace rf {

class StreamTemporary {
 public:
  StreamTemporary(cudaStream_t stream, size_t bytes) : stream_(stream) {
    const cudaError_t e = cudaMallocAsync(&data_, bytes, stream_);
    if (e == cudaSuccess) return;
    cudaGetLastError();  // reported here; keep it out of the next launch check
    data_ = nullptr;
    const std::string what = "CUDA allocation of " + std::to_string(bytes) + " bytes failed: " +
                             cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
    if (e == cudaErrorMemoryAllocation) throw OutOfMemory(bytes, what);
    RF_CHECK(false, what);
  }
  // A destructor must not throw: a failed free leaves CUDA's error pending for the next check.
  ~StreamTemporary() {
    if (data_ != nullptr) cudaFreeAsync(data_, stream_);
  }
  StreamTemporary(const StreamTemporary&) = delete;
  StreamTemporary& operator=(const StreamTemporary&) = delete;
  void* data() const { return data_; }

 private:
  cudaStream_t stream_;
  void* data_ = nullptr;
};

}  // namespace rf
