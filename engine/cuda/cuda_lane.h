#pragma once
// A lane of the CUDA backend: one stream and what the backend's ops need bound to that stream, the
// cuDNN and cuBLAS handles and the grow-only scratch buffers. Work queued through one lane runs in
// order; two lanes (the main one and the side lane of Backend::run_concurrently) run concurrently
// except where events order them. A lane's scratch buffers are its own because ops on two streams
// may run at the same moment: sharing one would let them overwrite each other's partial sums.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/cuda/device_scratch.h"

namespace rf {

class CudaLane {
 public:
  // The handles come on first use; like the backend that owns it, a lane is never destroyed (the
  // handles would outlive the CUDA runtime at exit).
  explicit CudaLane(cudaStream_t stream) : stream_(stream), workspace_(stream), scratch_(stream) {}
  CudaLane(const CudaLane&) = delete;
  CudaLane& operator=(const CudaLane&) = delete;

  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn();
  // `tf32` sets the math mode of a handle created now; set_cublas_math changes it later.
  cublasHandle_t cublas(bool tf32);
  void set_cublas_math(bool tf32);  // no-op until the handle exists

  DeviceScratch& workspace() { return workspace_; }  // cuDNN convolution workspace
  DeviceScratch& scratch() { return scratch_; }      // partial sums of our reductions

 private:
  cudaStream_t stream_;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  DeviceScratch workspace_;
  DeviceScratch scratch_;
};

}  // namespace rf
