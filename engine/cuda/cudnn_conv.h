#pragma once
// Convolutions through cuDNN's legacy API (NHWC activations, KRSC filters, fp32 or bf16 tensors,
// fp32 compute). Descriptors and algorithm choices are cached per (geometry, data type, policy);
// the bias is not cuDNN's business here (see CudaBackend). All calls run on the cuDNN handle's
// stream.
#include <cudnn.h>

#include <array>
#include <map>
#include <memory>

#include "engine/cuda/device_scratch.h"
#include "kernels/bfloat16.h"
#include "kernels/shapes.h"

namespace rf {

// What a convolution may compute with. tf32: TF32 tensor cores allowed for fp32 tensors, else FP32
// FMA only; never a down-conversion to fp16/bf16. (bf16 tensors may use tensor cores either way:
// they multiply bf16 values exactly and accumulate in fp32, which is the bf16 op's semantics.)
// deterministic: only algorithms cuDNN marks deterministic, ranked by its heuristic (a function of
// problem, device and cuDNN version) instead of timed, so the same run picks the same algorithm
// every time.
struct ConvPolicy {
  bool tf32 = true;
  bool deterministic = false;
};

class CudnnConv {
 public:
  CudnnConv();
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // `workspace` is grown to what the chosen algorithm needs. Outputs are overwritten, except a
  // float32 filter gradient with `accumulate`, to which the result is added (cuDNN's beta = 1).
  // Throws when cuDNN offers no algorithm that the policy allows, and when a new geometry is met
  // while the stream is captured outside deterministic mode (the timed search, cudnnFind, cannot
  // be recorded).
  void forward(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g, ConvPolicy policy,
               const float* x, const float* w, float* y);
  void backward_data(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                     ConvPolicy policy, const float* dy, const float* w, float* dx);
  void backward_filter(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                       ConvPolicy policy, const float* x, const float* dy, float* dw,
                       bool accumulate);

  // The same on bf16 tensors (dw included, always overwritten: the backend widens it into its
  // float32 gradient), computed in fp32 and rounded once to bf16 by cuDNN.
  void forward(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g, ConvPolicy policy,
               const BF16* x, const BF16* w, BF16* y);
  void backward_data(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                     ConvPolicy policy, const BF16* dy, const BF16* w, BF16* dx);
  void backward_filter(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                       ConvPolicy policy, const BF16* x, const BF16* dy, BF16* dw);

  struct Plan;  // descriptors and chosen algorithms of one geometry (defined in the .cu)

 private:
  using Key = std::array<int, 12>;
  Plan& plan(const ConvGeom& g, cudnnDataType_t type, ConvPolicy policy);
  void run_forward(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                   cudnnDataType_t type, ConvPolicy policy, const void* x, const void* w, void* y);
  void run_backward_data(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                         cudnnDataType_t type, ConvPolicy policy, const void* dy, const void* w,
                         void* dx);
  void run_backward_filter(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                           cudnnDataType_t type, ConvPolicy policy, const void* x, const void* dy,
                           void* dw, bool accumulate);
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace rf
