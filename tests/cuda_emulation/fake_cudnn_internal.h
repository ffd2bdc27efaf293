#pragma once
// What the fake cuDNN's files share (fake_cudnn.cpp: the library, handles and descriptors;
// fake_cudnn_conv.cpp; fake_cudnn_batchnorm.cpp): the descriptors' contents and the failure
// report behind cudnnGetLastErrorString.
#include <cstddef>
#include <string>

#include "cudnn.h"

struct cudnnContext {
  cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int n = 0, c = 0, h = 0, w = 0;  // NHWC in memory
};
struct cudnnFilterStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int k = 0, c = 0, r = 0, s = 0;  // KRSC in memory
};
struct cudnnConvolutionStruct {
  bool set = false;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

namespace rf::fake_cudnn {

// Records why (for cudnnGetLastErrorString) and returns `status`.
cudnnStatus_t fail(cudnnStatus_t status, std::string why);
// The last failure's explanation in this thread.
std::string& last_error();

inline size_t element_bytes(cudnnDataType_t type) {
  return type == CUDNN_DATA_BFLOAT16 ? 2 : 4;
}

}  // namespace rf::fake_cudnn
