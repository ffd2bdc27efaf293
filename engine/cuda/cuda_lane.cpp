#include "engine/cuda/cuda_lane.h"

#include "engine/cuda/cublas_check.h"
#include "engine/cuda/cudnn_check.h"

namespace rf {

cudnnHandle_t CudaLane::cudnn() {
  if (cudnn_ == nullptr) {
    RF_CUDNN_CHECK(cudnnCreate(&cudnn_));
    RF_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

cublasHandle_t CudaLane::cublas(bool tf32) {
  if (cublas_ == nullptr) {
    RF_CUBLAS_CHECK(cublasCreate(&cublas_));
    RF_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    RF_CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
    // cuBLAS's default, made explicit: with atomics not allowed its routines give the same bits
    // on every run on one device and stream (cuBLAS documentation, "Results reproducibility");
    // --deterministic relies on it, and on every lane doing the same.
    RF_CUBLAS_CHECK(cublasSetAtomicsMode(cublas_, CUBLAS_ATOMICS_NOT_ALLOWED));
    set_cublas_math(tf32);
  }
  return cublas_;
}

// CUBLAS_DEFAULT_MATH computes fp32 GEMMs in full fp32; TF32 tensor cores only when allowed.
void CudaLane::set_cublas_math(bool tf32) {
  if (cublas_ == nullptr) return;
  RF_CUBLAS_CHECK(
      cublasSetMathMode(cublas_, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

}  // namespace rf
