#include "engine/cuda/cudnn_conv.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "engine/check.h"
#include "engine/cuda/cudnn_check.h"
#include "engine/cuda/cudnn_descriptors.h"
#include "kernels/cuda/check.cuh"

// Algorithm choice: cudnnFind*AlgorithmEx, once per (geometry, math type) and direction, on the
// caller's real buffers (their outputs are about to be overwritten anyway). Find times every
// algorithm that supports the problem, so the choice is the measured fastest, not the
// heuristic's guess (cudnnGet*_v7), at the cost of one slower first step per layer shape. Find
// runs with a temporary workspace as large as the hungriest algorithm asks for (capped); the
// chosen algorithm then runs in the backend's shared, grow-only workspace. Results whose status
// is not SUCCESS are skipped, and with TF32 off, results that are not pure-FMA math too; when no
// result is usable a plain algorithm that needs little or no workspace is taken, with a notice.

namespace rf {
namespace {

constexpr size_t kFindWorkspaceCap = size_t(1) << 30;

template <class Algo>
struct Choice {
  Algo algo;
  cudnnMathType_t math;
  size_t workspace;
};

using FwdAlgo = cudnnConvolutionFwdAlgo_t;
using BwdDataAlgo = cudnnConvolutionBwdDataAlgo_t;
using BwdFilterAlgo = cudnnConvolutionBwdFilterAlgo_t;

// A temporary device buffer for cudnnFind*: halves its size until the pool can serve it.
class FindWorkspace {
 public:
  FindWorkspace(cudaStream_t stream, size_t want) : stream_(stream) {
    for (size_ = std::min(want, kFindWorkspaceCap); size_ > 0; size_ /= 2) {
      const cudaError_t e = cudaMallocAsync(&data_, size_, stream_);
      if (e == cudaSuccess) return;
      if (e != cudaErrorMemoryAllocation) RF_CUDA_CHECK(e);
      cudaGetLastError();  // an out-of-memory here is handled: clear it
      data_ = nullptr;
    }
  }
  ~FindWorkspace() {
    if (data_ != nullptr) cudaFreeAsync(data_, stream_);
  }
  FindWorkspace(const FindWorkspace&) = delete;
  FindWorkspace& operator=(const FindWorkspace&) = delete;
  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  cudaStream_t stream_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

struct CudnnConv::Plan {
  ConvGeom g;
  cudnnMathType_t math;  // requested
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  std::optional<Choice<FwdAlgo>> fwd;
  std::optional<Choice<BwdDataAlgo>> bwd_data;
  std::optional<Choice<BwdFilterAlgo>> bwd_filter;
};

namespace {

using Plan = CudnnConv::Plan;

// The three directions differ only in which cuDNN functions they call.
struct Fwd {
  using Algo = FwdAlgo;
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  static constexpr const char* kName = "forward";
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y, a, bytes);
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionForwardAlgorithmMaxCount(h, n);
  }
  // (a, b) -> out: (x, w) -> y
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const void* a, const void* b,
                            void* out, int n, int* returned, Perf* perf, void* ws, size_t bytes) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, p.x, a, p.w, b, p.conv, p.y, out, n,
                                                  returned, perf, ws, bytes);
  }
};

struct BwdData {
  using Algo = BwdDataAlgo;
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  static constexpr const char* kName = "backward-data";
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x, a, bytes);
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, n);
  }
  // (a, b) -> out: (w, dy) -> dx
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const void* a, const void* b,
                            void* out, int n, int* returned, Perf* perf, void* ws, size_t bytes) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, a, p.y, b, p.conv, p.x, out, n,
                                                       returned, perf, ws, bytes);
  }
};

struct BwdFilter {
  using Algo = BwdFilterAlgo;
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static constexpr Algo kFallback = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  static constexpr const char* kName = "backward-filter";
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w, a, bytes);
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, n);
  }
  // (a, b) -> out: (x, dy) -> dw
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const void* a, const void* b,
                            void* out, int n, int* returned, Perf* perf, void* ws, size_t bytes) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, a, p.y, b, p.conv, p.w, out, n,
                                                         returned, perf, ws, bytes);
  }
};

// The workspace an algorithm needs under a math type: Find's figure, or the query's when larger.
template <class Ops>
Choice<typename Ops::Algo> settle(cudnnHandle_t h, const Plan& p, typename Ops::Algo algo,
                                  cudnnMathType_t math, size_t find_bytes) {
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, math));
  size_t bytes = 0;
  RF_CUDNN_CHECK(Ops::workspace(h, p, algo, &bytes));
  return {algo, math, std::max(bytes, find_bytes)};
}

template <class Ops>
Choice<typename Ops::Algo> choose(cudnnHandle_t h, const Plan& p, const void* a, const void* b,
                                  void* out) {
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.math));
  size_t want = 0;
  for (int i = 0; i < Ops::kCount; ++i) {
    size_t bytes = 0;  // algorithms that do not support the problem report an error: skipped
    if (Ops::workspace(h, p, typename Ops::Algo(i), &bytes) == CUDNN_STATUS_SUCCESS)
      want = std::max(want, bytes);
  }
  cudaStream_t stream = nullptr;
  RF_CUDNN_CHECK(cudnnGetStream(h, &stream));
  const FindWorkspace ws(stream, want);

  int count = 0;
  RF_CUDNN_CHECK(Ops::max_count(h, &count));
  std::vector<typename Ops::Perf> perf(size_t(std::max(count, 1)));
  int returned = 0;
  RF_CUDNN_CHECK(Ops::find(h, p, a, b, out, int(perf.size()), &returned, perf.data(), ws.data(),
                           ws.size()));
  for (int i = 0; i < returned; ++i) {  // sorted by time, fastest first
    const auto& r = perf[size_t(i)];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > ws.size()) continue;
    if (p.math == CUDNN_FMA_MATH && r.mathType != CUDNN_FMA_MATH) continue;
    return settle<Ops>(h, p, r.algo, r.mathType, r.memory);
  }
  const ConvGeom& g = p.g;
  std::fprintf(stderr,
               "rf: cuDNN Find returned no usable %s algorithm for conv n=%d h=%d w=%d c=%d k=%d "
               "r=%d s=%d stride=%d pad=%d; using algorithm %d\n",
               Ops::kName, g.n, g.h, g.w, g.c, g.k, g.r, g.s, g.stride, g.pad,
               int(Ops::kFallback));
  return settle<Ops>(h, p, Ops::kFallback, p.math, 0);
}

}  // namespace

CudnnConv::CudnnConv() = default;
CudnnConv::~CudnnConv() = default;

CudnnConv::Plan& CudnnConv::plan(const ConvGeom& g, bool tf32) {
  const Key key{g.n, g.h, g.w, g.c, g.k, g.r, g.s, g.stride, g.pad, tf32 ? 1 : 0};
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  RF_CHECK(g.n > 0 && g.h > 0 && g.w > 0 && g.c > 0 && g.k > 0 && g.r > 0 && g.s > 0 &&
               g.stride > 0 && g.pad >= 0 && g.p() > 0 && g.q() > 0,
           "conv2d: invalid geometry n=" << g.n << " h=" << g.h << " w=" << g.w << " c=" << g.c
                                        << " k=" << g.k << " r=" << g.r << " s=" << g.s
                                        << " stride=" << g.stride << " pad=" << g.pad);
  auto p = std::make_unique<Plan>();
  p->g = g;
  // With TF32 allowed cuDNN may use TF32 tensor cores for fp32 (CUDNN_DEFAULT_MATH);
  // CUDNN_FMA_MATH restricts it to fp32 FMA kernels.
  p->math = tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  RF_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, g.n, g.c, g.h, g.w));
  RF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, g.n, g.k,
                                            g.p(), g.q()));
  // NHWC filter format with dims (k, c, r, s) is the memory order k, r, s, c: our KRSC.
  RF_CUDNN_CHECK(
      cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, g.k, g.c, g.r, g.s));
  RF_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, g.pad, g.pad, g.stride, g.stride, 1, 1,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->math));
  int on = 0, ok = 0, op = 0, oq = 0;
  RF_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &on, &ok, &op, &oq));
  RF_CHECK(on == g.n && ok == g.k && op == g.p() && oq == g.q(),
           "conv2d: cuDNN output dims " << on << "x" << ok << "x" << op << "x" << oq
                                        << " differ from ConvGeom's " << g.n << "x" << g.k << "x"
                                        << g.p() << "x" << g.q());
  return *plans_.emplace(key, std::move(p)).first->second;
}

void CudnnConv::forward(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g, bool tf32,
                        const float* x, const float* w, float* y) {
  Plan& p = plan(g, tf32);
  if (!p.fwd) p.fwd = choose<Fwd>(h, p, x, w, y);
  const float one = 1.f, zero = 0.f;
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.fwd->math));
  void* ws = workspace.get(p.fwd->workspace);
  RF_CUDNN_CHECK(cudnnConvolutionForward(h, &one, p.x, x, p.w, w, p.conv, p.fwd->algo, ws,
                                         p.fwd->workspace, &zero, p.y, y));
}

void CudnnConv::backward_data(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                              bool tf32, const float* dy, const float* w, float* dx) {
  Plan& p = plan(g, tf32);
  if (!p.bwd_data) p.bwd_data = choose<BwdData>(h, p, w, dy, dx);
  const float one = 1.f, zero = 0.f;
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.bwd_data->math));
  void* ws = workspace.get(p.bwd_data->workspace);
  RF_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, p.w, w, p.y, dy, p.conv,
                                              p.bwd_data->algo, ws, p.bwd_data->workspace, &zero,
                                              p.x, dx));
}

void CudnnConv::backward_filter(cudnnHandle_t h, DeviceScratch& workspace, const ConvGeom& g,
                                bool tf32, const float* x, const float* dy, float* dw) {
  Plan& p = plan(g, tf32);
  if (!p.bwd_filter) p.bwd_filter = choose<BwdFilter>(h, p, x, dy, dw);
  const float one = 1.f, zero = 0.f;
  RF_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.bwd_filter->math));
  void* ws = workspace.get(p.bwd_filter->workspace);
  RF_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, p.x, x, p.y, dy, p.conv,
                                                p.bwd_filter->algo, ws, p.bwd_filter->workspace,
                                                &zero, p.w, dw));
}

}  // namespace rf
