#pragma once
// Convolutions through cuDNN's legacy API (NHWC activations, KRSC filters, fp32). Descriptors and
// algorithm choices are cached per (geometry, math type); the bias is not cuDNN's business here
// (see CudaBackend). All calls run on the cuDNN handle's stream.
#include <cudnn.h>

#include <array>
#include <map>
#include <memory>

#include "engine/cuda/device_scratch.h"
#include "kernels/shapes.h"

namespace rf {

class CudnnConv {
 public:
  CudnnConv();
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // `tf32`: allow TF32 tensor cores (CUDNN_DEFAULT_MATH) or only fp32 FMA (CUDNN_FMA_MATH).
  // `workspace` is grown to what the chosen algorithm needs. Outputs are overwritten.
  void forward(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g, bool tf32,
               const float* x, const float* w, float* y);
  void backward_data(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g, bool tf32,
                     const float* dy, const float* w, float* dx);
  void backward_filter(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g, bool tf32,
                       const float* x, const float* dy, float* dw);

  struct Plan;  // descriptors and chosen algorithms of one geometry (defined in the .cu)

 private:
  using Key = std::array<int, 10>;
  Plan& plan(const ConvGeom& g, bool tf32);
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace rf
