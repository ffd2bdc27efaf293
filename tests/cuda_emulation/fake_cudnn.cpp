// The fake cuDNN of the emulated device (declared in include/cudnn.h; what it fakes and what it
// does not is said there): the library, handles and descriptors. Convolutions are in
// fake_cudnn_conv.cpp, batch norm in fake_cudnn_batchnorm.cpp.
//
// Design. Descriptors are plain structs whose contents each call validates and copies: the work a
// call queues (rf::cuda_emulation::enqueue, one kernel node) owns copies of every shape, scalar
// and pointer it uses, so a graph replays it after the descriptors are reset or destroyed, as
// cuDNN's recorded kernels do. A call the fake cannot honour exactly fails, with
// cudnnGetLastErrorString saying why.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "fake_cudnn_internal.h"

namespace rf::fake_cudnn {

cudnnStatus_t fail(cudnnStatus_t status, std::string why) {
  last_error() = "fake cuDNN: " + std::move(why);
  return status;
}

std::string& last_error() {
  thread_local std::string why;
  return why;
}

}  // namespace rf::fake_cudnn

namespace {

using rf::fake_cudnn::fail;

// major * 10000 + minor * 100 + patch: "9.99.99", a cuDNN that does not exist.
constexpr size_t kFakeVersion = 99999;

bool known_type(cudnnDataType_t t) { return t == CUDNN_DATA_FLOAT || t == CUDNN_DATA_BFLOAT16; }

}  // namespace

// ---- library, handles, descriptors ----

size_t cudnnGetVersion() { return kFakeVersion; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
  }
  return "CUDNN_UNKNOWN_STATUS_FOUND";
}

// The last failure's explanation in this thread, then cleared.
void cudnnGetLastErrorString(char* message, size_t max_size) {
  if (message == nullptr || max_size == 0) return;
  const size_t n = std::min(rf::fake_cudnn::last_error().size(), max_size - 1);
  std::memcpy(message, rf::fake_cudnn::last_error().data(), n);
  message[n] = '\0';
  rf::fake_cudnn::last_error().clear();
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null handle pointer");
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();  // the failure is reported as cuDNN's
    return fail(CUDNN_STATUS_NOT_INITIALIZED, "no emulated device (RF_CUDA_EMULATION_DEVICE)");
  }
  *handle = new cudnnContext;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null handle");
  delete handle;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null handle");
  handle->stream = streamId;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t* streamId) {
  if (handle == nullptr || streamId == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null");
  *streamId = handle->stream;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* tensorDesc) {
  if (tensorDesc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null descriptor pointer");
  *tensorDesc = new cudnnTensorStruct;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc,
                                         cudnnTensorFormat_t format, cudnnDataType_t dataType,
                                         int n, int c, int h, int w) {
  if (tensorDesc == nullptr || n <= 0 || c <= 0 || h <= 0 || w <= 0)
    return fail(CUDNN_STATUS_BAD_PARAM, "a null descriptor or a dimension below 1");
  if (format != CUDNN_TENSOR_NHWC || !known_type(dataType))
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "tensors other than NHWC float or bfloat16");
  *tensorDesc = {true, dataType, n, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) {
  delete tensorDesc;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* filterDesc) {
  if (filterDesc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null descriptor pointer");
  *filterDesc = new cudnnFilterStruct;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc,
                                         cudnnDataType_t dataType, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
  if (filterDesc == nullptr || k <= 0 || c <= 0 || h <= 0 || w <= 0)
    return fail(CUDNN_STATUS_BAD_PARAM, "a null descriptor or a dimension below 1");
  if (format != CUDNN_TENSOR_NHWC || !known_type(dataType))
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "filters other than NHWC float or bfloat16");
  *filterDesc = {true, dataType, k, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) {
  delete filterDesc;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* convDesc) {
  if (convDesc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null descriptor pointer");
  *convDesc = new cudnnConvolutionStruct;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h,
                                              int pad_w, int u, int v, int dilation_h,
                                              int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
  if (convDesc == nullptr || pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 ||
      dilation_w <= 0)
    return fail(CUDNN_STATUS_BAD_PARAM, "a null descriptor, negative padding or a step below 1");
  if (mode != CUDNN_CROSS_CORRELATION || computeType != CUDNN_DATA_FLOAT)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "convolutions other than float cross-correlation");
  convDesc->set = true;
  convDesc->pad_h = pad_h;
  convDesc->pad_w = pad_w;
  convDesc->stride_h = u;
  convDesc->stride_w = v;
  convDesc->dil_h = dilation_h;
  convDesc->dil_w = dilation_w;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc,
                                          cudnnMathType_t mathType) {
  if (convDesc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null descriptor");
  if (mathType < CUDNN_DEFAULT_MATH || mathType > CUDNN_FMA_MATH)
    return fail(CUDNN_STATUS_BAD_PARAM, "an unknown math type");
  convDesc->math = mathType;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) {
  delete convDesc;
  return CUDNN_STATUS_SUCCESS;
}
