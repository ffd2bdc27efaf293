// The fake cuDNN's convolutions (see fake_cudnn.cpp). They are lowered to OpenBLAS's sgemm in
// float32: im2col in chunks of the output positions (bounded memory at any batch), the col
// matrix's columns in the filter's own (r, s, c) order so that a filter row is a GEMM operand as
// it lies. Where the descriptor's math type lets cuDNN use TF32 tensor cores, float32 operands
// are first rounded to TF32 (tf32.h) into copies. The pure result lands in a float buffer and is
// then blended into the output with alpha and beta, so an output is read only when beta != 0 and
// a bfloat16 output is rounded once.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fake_cudnn_internal.h"
#include "kernels/bfloat16.h"
#include "tf32.h"

namespace {

using rf::BF16;
using rf::cuda_emulation::enqueue;
using rf::cuda_emulation::is_device_pointer;
using rf::cuda_emulation::Node;
using rf::cuda_emulation::operand_as_float;
using rf::fake_cudnn::element_bytes;
using rf::fake_cudnn::fail;

// Algorithms 0 and 1 of each direction: the ones the fake reports as supported (they compute the
// same thing, with no workspace).
constexpr int kSupportedAlgos = 2;
// Floats of im2col matrix per chunk (16 MiB).
constexpr int64_t kColFloats = int64_t(1) << 22;

// Everything a convolution call needs from its four descriptors, copied.
struct ConvShape {
  cudnnDataType_t type;
  int n, h, w, c;  // x, NHWC
  int k, r, s;     // filter, KRSC
  int p, q;        // y: n x p x q x k
  int pad_h, pad_w, stride_h, stride_w, dil_h, dil_w;
  int64_t rows() const { return int64_t(n) * p * q; }  // output positions
  int64_t taps() const { return int64_t(r) * s * c; }  // a filter row: (r, s, c)
  int64_t x_size() const { return int64_t(n) * h * w * c; }
  int64_t y_size() const { return rows() * k; }
  int64_t w_size() const { return k * taps(); }
  // The col matrix is x itself: each output position reads one input pixel, all its channels.
  bool pointwise() const {
    return r == 1 && s == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
};

int output_dim(int in, int pad, int filter, int stride, int dilation) {
  const int span = (filter - 1) * dilation + 1;
  return in + 2 * pad < span ? 0 : (in + 2 * pad - span) / stride + 1;
}

// Validates the descriptors of one convolution and copies them into `g`; `y` may be null (the
// output-dimension query).
cudnnStatus_t conv_shape(const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                         const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y,
                         ConvShape* g) {
  if (x == nullptr || w == nullptr || conv == nullptr || !x->set || !w->set || !conv->set)
    return fail(CUDNN_STATUS_BAD_PARAM, "a descriptor is null or was never set");
  if (x->c != w->c) return fail(CUDNN_STATUS_BAD_PARAM, "input and filter channels differ");
  *g = {x->type, x->n, x->h, x->w, x->c, w->k, w->r, w->s,
        output_dim(x->h, conv->pad_h, w->r, conv->stride_h, conv->dil_h),
        output_dim(x->w, conv->pad_w, w->s, conv->stride_w, conv->dil_w),
        conv->pad_h, conv->pad_w, conv->stride_h, conv->stride_w, conv->dil_h, conv->dil_w};
  if (g->p <= 0 || g->q <= 0) return fail(CUDNN_STATUS_BAD_PARAM, "the filter exceeds the input");
  if (y == nullptr) return CUDNN_STATUS_SUCCESS;
  if (!y->set) return fail(CUDNN_STATUS_BAD_PARAM, "the output descriptor was never set");
  if (y->n != g->n || y->c != g->k || y->h != g->p || y->w != g->q)
    return fail(CUDNN_STATUS_BAD_PARAM, "the output dimensions do not match the convolution");
  if (w->type != x->type || y->type != x->type)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "input, filter and output data types differ");
  return CUDNN_STATUS_SUCCESS;
}

// The three directions: (a, b) -> out is (x, w) -> y, (w, dy) -> dx, (x, dy) -> dw.
enum class Direction { kForward, kBackwardData, kBackwardFilter };

int64_t a_size(Direction d, const ConvShape& g) {
  return d == Direction::kBackwardData ? g.w_size() : g.x_size();
}
int64_t b_size(Direction d, const ConvShape& g) {
  return d == Direction::kForward ? g.w_size() : g.y_size();
}
int64_t out_size(Direction d, const ConvShape& g) {
  switch (d) {
    case Direction::kForward: return g.y_size();
    case Direction::kBackwardData: return g.x_size();
    case Direction::kBackwardFilter: return g.w_size();
  }
  return 0;
}

// The device memory a convolution call names: its operands, its output and its workspace.
cudnnStatus_t check_memory(Direction d, const ConvShape& g, const void* a, const void* b,
                           const void* out, const void* workspace, size_t workspace_bytes) {
  const size_t e = element_bytes(g.type);
  if (!is_device_pointer(a, size_t(a_size(d, g)) * e) ||
      !is_device_pointer(b, size_t(b_size(d, g)) * e) ||
      !is_device_pointer(out, size_t(out_size(d, g)) * e))
    return fail(CUDNN_STATUS_BAD_PARAM, "an operand is not device memory of its tensor's size");
  if (workspace_bytes > 0 && !is_device_pointer(workspace, workspace_bytes))
    return fail(CUDNN_STATUS_BAD_PARAM, "the workspace is not device memory of its size");
  return CUDNN_STATUS_SUCCESS;
}

// Whether cuDNN may run float32 data on TF32 tensor cores under `math`, on the emulated device
// (compute capability 9.0). In cuDNN 9's documentation, the legacy API guide's "Convolution
// Functions" (docs.nvidia.com/deeplearning/cudnn/latest/developer/legacy-api.html) has the three
// convolution functions use tensor cores under CUDNN_TENSOR_OP_MATH, and cudnnMathType_t
// (.../latest/api/cudnn-graph-library.html) permits TF32 tensor core operations under
// CUDNN_DEFAULT_MATH too from the A100 on, while CUDNN_FMA_MATH restricts cuDNN to FMA kernels.
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which lets cuDNN convert float32 data down to fp16,
// computes in full float32: that conversion is not emulated.
bool tf32_math(cudnnMathType_t math) {
  return (math == CUDNN_DEFAULT_MATH || math == CUDNN_TENSOR_OP_MATH) &&
         !rf::cuda_emulation::tf32_overridden_off();
}

// out = alpha * result + beta * out, the output read only when beta != 0 (cuDNN's scaling rule);
// bfloat16 rounded once, from the float value.
void blend(cudnnDataType_t type, const std::vector<float>& result, float alpha, float beta,
           void* out) {
  const size_t n = result.size();
  if (type == CUDNN_DATA_FLOAT) {
    float* o = static_cast<float*>(out);
    for (size_t i = 0; i < n; ++i)
      o[i] = beta == 0.f ? alpha * result[i] : alpha * result[i] + beta * o[i];
  } else {
    BF16* o = static_cast<BF16*>(out);
    for (size_t i = 0; i < n; ++i) {
      const float v = beta == 0.f ? alpha * result[i]
                                  : alpha * result[i] + beta * rf::bf16_to_float(o[i]);
      o[i] = rf::float_to_bf16(v);
    }
  }
}

// Calls f(row0, rows) over the output positions in chunks whose col matrix fits kColFloats.
template <class F>
void for_chunks(const ConvShape& g, F f) {
  const int64_t chunk = std::max<int64_t>(1, kColFloats / g.taps());
  for (int64_t row0 = 0; row0 < g.rows(); row0 += chunk) f(row0, std::min(chunk, g.rows() - row0));
}

// Calls f(row, tap, pixel) for each (output position, filter tap) of the chunk, with `pixel` the
// input pixel's offset in x, or -1 where the tap reads padding. tap = r * s_count + s.
template <class F>
void for_taps(const ConvShape& g, int64_t row0, int64_t rows, F f) {
  for (int64_t row = row0; row < row0 + rows; ++row) {
    const int q = int(row % g.q), p = int(row / g.q % g.p), n = int(row / (int64_t(g.p) * g.q));
    for (int r = 0; r < g.r; ++r)
      for (int s = 0; s < g.s; ++s) {
        const int ih = p * g.stride_h - g.pad_h + r * g.dil_h;
        const int iw = q * g.stride_w - g.pad_w + s * g.dil_w;
        const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
        f(row - row0, r * g.s + s, inside ? ((int64_t(n) * g.h + ih) * g.w + iw) * g.c : -1);
      }
  }
}

// col[rows, taps] of the chunk: each row the input values its output position's filter meets.
void im2col(const ConvShape& g, const float* x, int64_t row0, int64_t rows, float* col) {
  for_taps(g, row0, rows, [&](int64_t i, int tap, int64_t pixel) {
    float* dst = col + i * g.taps() + int64_t(tap) * g.c;
    if (pixel < 0) std::fill(dst, dst + g.c, 0.f);
    else std::copy(x + pixel, x + pixel + g.c, dst);
  });
}

// dx += the chunk's col[rows, taps] scattered back to the pixels it was gathered from.
void col2im_add(const ConvShape& g, const float* col, int64_t row0, int64_t rows, float* dx) {
  for_taps(g, row0, rows, [&](int64_t i, int tap, int64_t pixel) {
    if (pixel < 0) return;
    const float* src = col + i * g.taps() + int64_t(tap) * g.c;
    for (int c = 0; c < g.c; ++c) dx[pixel + c] += src[c];
  });
}

// The chunk's col matrix: x itself for a pointwise convolution, else im2col into `buffer`.
const float* cols(const ConvShape& g, const float* x, int64_t row0, int64_t rows,
                  std::vector<float>& buffer) {
  if (g.pointwise()) return x + row0 * g.c;
  buffer.resize(size_t(rows * g.taps()));
  im2col(g, x, row0, rows, buffer.data());
  return buffer.data();
}

// y[rows, k] = col[rows, taps] W[k, taps]^T
std::vector<float> forward(const ConvShape& g, const float* x, const float* w) {
  std::vector<float> y(size_t(g.y_size())), buffer;
  for_chunks(g, [&](int64_t row0, int64_t rows) {
    const float* col = cols(g, x, row0, rows, buffer);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), g.k, int(g.taps()), 1.f, col,
                int(g.taps()), w, int(g.taps()), 0.f, y.data() + row0 * g.k, g.k);
  });
  return y;
}

// dcol[rows, taps] = dy[rows, k] W[k, taps], scattered into dx.
std::vector<float> backward_data(const ConvShape& g, const float* w, const float* dy) {
  std::vector<float> dx(size_t(g.x_size())), dcol;
  for_chunks(g, [&](int64_t row0, int64_t rows) {
    float* out = dx.data() + row0 * g.c;  // pointwise: the rows of dx are those of dcol
    if (!g.pointwise()) {
      dcol.resize(size_t(rows * g.taps()));
      out = dcol.data();
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(g.taps()), g.k, 1.f,
                dy + row0 * g.k, g.k, w, int(g.taps()), 0.f, out, int(g.taps()));
    if (!g.pointwise()) col2im_add(g, dcol.data(), row0, rows, dx.data());
  });
  return dx;
}

// dW[k, taps] = sum over the chunks of dy[rows, k]^T col[rows, taps]
std::vector<float> backward_filter(const ConvShape& g, const float* x, const float* dy) {
  std::vector<float> dw(size_t(g.w_size())), buffer;
  for_chunks(g, [&](int64_t row0, int64_t rows) {
    const float* col = cols(g, x, row0, rows, buffer);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.k, int(g.taps()), int(rows), 1.f,
                dy + row0 * g.k, g.k, col, int(g.taps()), 1.f, dw.data(), int(g.taps()));
  });
  return dw;
}

// The three functions' common body: check, then queue the convolution as one kernel.
cudnnStatus_t convolve(Direction d, cudnnHandle_t handle, const void* alpha_p, const void* a,
                       const void* b, const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                       const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y, int algo,
                       void* workspace, size_t workspace_bytes, const void* beta_p, void* out) {
  if (handle == nullptr || alpha_p == nullptr || beta_p == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, "a null handle, alpha or beta");
  ConvShape g{};
  if (const cudnnStatus_t s = conv_shape(x, w, conv, y, &g); s != CUDNN_STATUS_SUCCESS) return s;
  if (algo < 0 || algo >= kSupportedAlgos)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "algorithm " + std::to_string(algo) +
                                                " (the fake runs algorithms 0 and 1 only)");
  if (const cudnnStatus_t s = check_memory(d, g, a, b, out, workspace, workspace_bytes);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  // Scaling factors are float for float and bfloat16 data, read now, as cuDNN reads them; so is
  // the math type, which the descriptor may change before the queued work runs.
  const float alpha = *static_cast<const float*>(alpha_p);
  const float beta = *static_cast<const float*>(beta_p);
  const bool tf32 = tf32_math(conv->math);
  enqueue(handle->stream, Node::kKernel, [d, g, a, b, alpha, beta, tf32, out] {
    std::vector<float> a_copy, b_copy;
    const bool bf16 = g.type != CUDNN_DATA_FLOAT;
    const float* af = operand_as_float(bf16, a, a_size(d, g), tf32, a_copy);
    const float* bf = operand_as_float(bf16, b, b_size(d, g), tf32, b_copy);
    const std::vector<float> result = d == Direction::kForward        ? forward(g, af, bf)
                                      : d == Direction::kBackwardData ? backward_data(g, af, bf)
                                                                      : backward_filter(g, af, bf);
    blend(g.type, result, alpha, beta, out);
  });
  return CUDNN_STATUS_SUCCESS;
}

// The ranking every query returns, for a problem conv_shape accepted: the supported algorithms
// first, deterministic and needing no workspace, under the descriptor's math type; then the
// others, CUDNN_STATUS_NOT_SUPPORTED, as cuDNN lists what it cannot run.
template <class Perf>
cudnnStatus_t rank(const cudnnConvolutionStruct* conv, int algo_count, int requested,
                   int* returned, Perf* perf) {
  if (requested < 1 || returned == nullptr || perf == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, "no room for results");
  *returned = std::min(requested, algo_count);
  for (int i = 0; i < *returned; ++i) {
    const bool supported = i < kSupportedAlgos;
    perf[i] = {};
    perf[i].algo = decltype(perf[i].algo)(i);
    perf[i].status = supported ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
    perf[i].time = supported ? 0.5f * float(i + 1) : -1.f;
    perf[i].memory = 0;
    perf[i].determinism = CUDNN_DETERMINISTIC;
    perf[i].mathType = conv->math;
  }
  return CUDNN_STATUS_SUCCESS;
}

template <class Perf>
cudnnStatus_t get_algorithms(cudnnHandle_t handle, const cudnnTensorStruct* x,
                             const cudnnFilterStruct* w, const cudnnConvolutionStruct* conv,
                             const cudnnTensorStruct* y, int algo_count, int requested,
                             int* returned, Perf* perf) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null handle");
  ConvShape g{};
  if (const cudnnStatus_t s = conv_shape(x, w, conv, y, &g); s != CUDNN_STATUS_SUCCESS) return s;
  return rank(conv, algo_count, requested, returned, perf);
}

// Find times trials that write the output: what they leave there is unspecified, so the fake
// leaves garbage (NaN), and a caller that expected its output to survive the search sees it.
template <class Perf>
cudnnStatus_t find_algorithms(Direction d, cudnnHandle_t handle, const void* a, const void* b,
                              const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                              const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y,
                              void* out, int algo_count, int requested, int* returned,
                              Perf* perf, void* workspace, size_t workspace_bytes) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null handle");
  ConvShape g{};
  if (const cudnnStatus_t s = conv_shape(x, w, conv, y, &g); s != CUDNN_STATUS_SUCCESS) return s;
  if (const cudnnStatus_t s = check_memory(d, g, a, b, out, workspace, workspace_bytes);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  if (const cudnnStatus_t s = rank(conv, algo_count, requested, returned, perf);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  const size_t bytes = size_t(out_size(d, g)) * element_bytes(g.type);
  enqueue(handle->stream, Node::kKernel, [out, bytes] { std::memset(out, 0xff, bytes); });
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t workspace_size(const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                             const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y,
                             int algo, size_t* bytes) {
  ConvShape g{};
  if (const cudnnStatus_t s = conv_shape(x, w, conv, y, &g); s != CUDNN_STATUS_SUCCESS) return s;
  if (bytes == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null size");
  if (algo < 0 || algo >= kSupportedAlgos)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, "algorithm " + std::to_string(algo));
  *bytes = 0;
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
                                                    const cudnnTensorDescriptor_t inputTensorDesc,
                                                    const cudnnFilterDescriptor_t filterDesc,
                                                    int* n, int* c, int* h, int* w) {
  ConvShape g{};
  if (const cudnnStatus_t s = conv_shape(inputTensorDesc, filterDesc, convDesc, nullptr, &g);
      s != CUDNN_STATUS_SUCCESS)
    return s;
  if (n == nullptr || c == nullptr || h == nullptr || w == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, "a null output");
  *n = g.n;
  *c = g.k;
  *h = g.p;
  *w = g.q;
  return CUDNN_STATUS_SUCCESS;
}

// ---- forward ----

cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
  if (handle == nullptr || count == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null");
  *count = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionFwdAlgoPerf_t* perfResults) {
  return get_algorithms(handle, srcDesc, filterDesc, convDesc, destDesc,
                        CUDNN_CONVOLUTION_FWD_ALGO_COUNT, requestedAlgoCount, returnedAlgoCount,
                        perfResults);
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t yDesc, void* y, const int requestedAlgoCount,
    int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace,
    size_t workSpaceSizeInBytes) {
  return find_algorithms(Direction::kForward, handle, x, w, xDesc, wDesc, convDesc, yDesc, y,
                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, requestedAlgoCount, returnedAlgoCount,
                         perfResults, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle,
                                                      const cudnnTensorDescriptor_t xDesc,
                                                      const cudnnFilterDescriptor_t wDesc,
                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                      const cudnnTensorDescriptor_t yDesc,
                                                      cudnnConvolutionFwdAlgo_t algo,
                                                      size_t* sizeInBytes) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null handle");
  return workspace_size(xDesc, wDesc, convDesc, yDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha,
                                      const cudnnTensorDescriptor_t xDesc, const void* x,
                                      const cudnnFilterDescriptor_t wDesc, const void* w,
                                      const cudnnConvolutionDescriptor_t convDesc,
                                      cudnnConvolutionFwdAlgo_t algo, void* workSpace,
                                      size_t workSpaceSizeInBytes, const void* beta,
                                      const cudnnTensorDescriptor_t yDesc, void* y) {
  return convolve(Direction::kForward, handle, alpha, x, w, xDesc, wDesc, convDesc, yDesc, algo,
                  workSpace, workSpaceSizeInBytes, beta, y);
}

// ---- backward data ----

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
  if (handle == nullptr || count == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null");
  *count = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdDataAlgoPerf_t* perfResults) {
  return get_algorithms(handle, gradDesc, filterDesc, convDesc, diffDesc,
                        CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, requestedAlgoCount,
                        returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void* w,
    const cudnnTensorDescriptor_t dyDesc, const void* dy,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, void* dx,
    const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdDataAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes) {
  return find_algorithms(Direction::kBackwardData, handle, w, dy, dxDesc, wDesc, convDesc, dyDesc,
                         dx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, requestedAlgoCount,
                         returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
    const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t dxDesc, cudnnConvolutionBwdDataAlgo_t algo,
    size_t* sizeInBytes) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null handle");
  return workspace_size(dxDesc, wDesc, convDesc, dyDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                           const cudnnFilterDescriptor_t wDesc, const void* w,
                                           const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void* workSpace,
                                           size_t workSpaceSizeInBytes, const void* beta,
                                           const cudnnTensorDescriptor_t dxDesc, void* dx) {
  return convolve(Direction::kBackwardData, handle, alpha, w, dy, dxDesc, wDesc, convDesc, dyDesc,
                  algo, workSpace, workSpaceSizeInBytes, beta, dx);
}

// ---- backward filter ----

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnnHandle_t handle,
                                                                 int* count) {
  if (handle == nullptr || count == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null");
  *count = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t gradDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdFilterAlgoPerf_t* perfResults) {
  return get_algorithms(handle, srcDesc, gradDesc, convDesc, diffDesc,
                        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, requestedAlgoCount,
                        returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnTensorDescriptor_t dyDesc, const void* y,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t dwDesc, void* dw,
    const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdFilterAlgoPerf_t* perfResults, void* workSpace,
    size_t workSpaceSizeInBytes) {
  return find_algorithms(Direction::kBackwardFilter, handle, x, y, xDesc, dwDesc, convDesc,
                         dyDesc, dw, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, requestedAlgoCount,
                         returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
    const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t gradDesc, cudnnConvolutionBwdFilterAlgo_t algo,
    size_t* sizeInBytes) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "a null handle");
  return workspace_size(xDesc, gradDesc, convDesc, dyDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void* x,
                                             const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace,
                                             size_t workSpaceSizeInBytes, const void* beta,
                                             const cudnnFilterDescriptor_t dwDesc, void* dw) {
  return convolve(Direction::kBackwardFilter, handle, alpha, x, dy, xDesc, dwDesc, convDesc,
                  dyDesc, algo, workSpace, workSpaceSizeInBytes, beta, dw);
}
